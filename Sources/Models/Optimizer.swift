#if canImport(Glibc)
import Glibc
#endif

/// Per-coordinate optimiser state for one parameter vector. `first`/`second` are AdaGrad's
/// Σg², Adam's m and v, FTRL's z and n; SGD keeps none. Each coordinate is updated only when
/// its gradient is non-zero for the event (sparse inputs), so an event costs its non-zeros.
public struct Optimizer: Sendable, Codable, Equatable {
    public let spec: OptimizerSpec
    /// Labelled events learnt (Adam's bias correction, the learning-rate schedule).
    public private(set) var steps = 0
    var first: [Double]
    var second: [Double]
    /// η_t for this step and Adam's bias corrections, computed once per event in `beginStep`.
    private var rate = 0.0
    private var correction1 = 1.0
    private var correction2 = 1.0

    public init(_ spec: OptimizerSpec, count: Int) {
        self.spec = spec
        let keeps = spec.kind != .sgd
        first = keeps ? .init(repeating: 0, count: count) : []
        second = spec.kind == .adam || spec.kind == .ftrl ? .init(repeating: 0, count: count) : []
    }

    /// Called once per labelled event, before its coordinate updates.
    public mutating func beginStep() {
        steps += 1
        switch spec.schedule {
        case .constant: rate = spec.learningRate
        case .inverseScaling: rate = spec.learningRate / pow(Double(steps), spec.power)
        }
        if spec.kind == .adam {
            correction1 = 1 - pow(spec.beta1, Double(steps))
            correction2 = 1 - pow(spec.beta2, Double(steps))
        }
    }

    /// Moves weight `w` (coordinate `i`) against the loss gradient `g` with penalties l1, l2.
    @inline(__always)
    public mutating func update(_ w: inout Double, _ i: Int, gradient g: Double, l1: Double, l2: Double) {
        switch spec.kind {
        case .sgd:
            w -= rate * (g + l2 * w)
            if l1 > 0 { w = truncate(w, rate * l1) }
        case .adagrad:
            let gt = g + l2 * w
            first[i] += gt * gt
            let root = (first[i] + spec.epsilon).squareRoot()
            w -= rate * gt / root
            if l1 > 0 { w = truncate(w, rate * l1 / root) }
        case .adam:
            let gt = g + l2 * w
            first[i] = spec.beta1 * first[i] + (1 - spec.beta1) * gt
            second[i] = spec.beta2 * second[i] + (1 - spec.beta2) * gt * gt
            let mHat = first[i] / correction1, vHat = second[i] / correction2
            w -= rate * mHat / (vHat.squareRoot() + spec.epsilon)
            if l1 > 0 { w = truncate(w, rate * l1) }
        case .ftrl:
            // z accumulates gradients minus the proximal shift; w is the closed-form minimiser.
            let n = second[i]
            let sigma = ((n + g * g).squareRoot() - n.squareRoot()) / spec.learningRate
            first[i] += g - sigma * w
            second[i] = n + g * g
            w = ftrlWeight(i, l1: l1, l2: l2)
        }
    }

    @inline(__always) func ftrlWeight(_ i: Int, l1: Double, l2: Double) -> Double {
        let z = first[i]
        guard abs(z) > l1 else { return 0 }
        let denominator = (spec.ftrlBeta + second[i].squareRoot()) / spec.learningRate + l2
        return -(z - (z > 0 ? l1 : -l1)) / denominator
    }

    /// A weight set from outside (a merged global version): state that derives the weight
    /// is made consistent with it. Only FTRL derives weights (from z and n): z is solved for so
    /// that the closed form gives `w` again; n (the coordinate's learning history) is kept.
    public mutating func adopt(_ w: Double, _ i: Int, l1: Double, l2: Double) {
        guard spec.kind == .ftrl else { return }
        if w == 0 {
            first[i] = Swift.max(-l1, Swift.min(l1, first[i]))
        } else {
            let denominator = (spec.ftrlBeta + second[i].squareRoot()) / spec.learningRate + l2
            first[i] = -w * denominator - (w > 0 ? l1 : -l1)
        }
    }

    @inline(__always) private func truncate(_ w: Double, _ by: Double) -> Double {
        w > 0 ? Swift.max(0, w - by) : Swift.min(0, w + by)
    }
}
