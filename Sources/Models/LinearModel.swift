#if canImport(Glibc)
import Glibc
#endif

/// A linear model over dense inputs (the first `x.count` inputs) and sparse ones (hashed
/// features, anywhere in the input space), with an intercept per output and L1/L2.
///
/// Parameters (what workers average): the weights, output-major (`outputs × inputs`), then
/// the intercepts. Binary logistic regression keeps the layout of earlier versions:
/// `[w₀ … w_{n−1}, b]`.
///
/// NaN/Inf never enter the weights: an event with a non-finite input, or whose gradient is
/// not finite, teaches nothing (the worker dead-letters such inputs before they get here).
public struct LinearModel: Sendable, Equatable, Codable {
    public let kind: ModelKind
    public let inputs: Int
    /// 1, or the number of classes (softmax).
    public let outputs: Int
    public private(set) var weights: [Double]
    public private(set) var intercepts: [Double]
    public var l1: Double
    public var l2: Double
    /// Each output's loss derivative is clipped to ±clipGradient (River's `clip_gradient`).
    public var clipGradient: Double
    /// Whether the intercepts learn (false: they stay at their value, 0 unless pre-trained),
    /// as River's `SoftmaxRegression`, which has none.
    public var fitIntercept: Bool
    /// The intercepts' own learning rate, plain SGD, as River's `intercept_lr` (constant);
    /// nil: they learn with the weights' optimizer (River's default, `intercept_lr` = the SGD
    /// learning rate 0.01, is the same thing).
    public var interceptLR: Double?
    public private(set) var optimizer: Optimizer
    /// Per-output raw scores and loss derivatives of the current event (no allocation per event).
    private var raw: [Double]
    private var derivative: [Double]

    public init(kind: ModelKind, inputs: Int, classes: Int = 2, optimizer: OptimizerSpec = OptimizerSpec(),
                l1: Double = 0, l2: Double = 0, clipGradient: Double = 1e12, fitIntercept: Bool = true, interceptLR: Double? = nil) {
        self.kind = kind
        self.inputs = inputs
        outputs = kind == .softmaxRegression ? Swift.max(2, classes) : 1
        weights = .init(repeating: 0, count: outputs * inputs)
        intercepts = .init(repeating: 0, count: outputs)
        self.l1 = l1
        self.l2 = l2
        self.clipGradient = clipGradient
        self.fitIntercept = fitIntercept
        self.interceptLR = interceptLR
        self.optimizer = Optimizer(optimizer, count: outputs * inputs + outputs)
        raw = .init(repeating: 0, count: outputs)
        derivative = .init(repeating: 0, count: outputs)
    }

    public static func parameterCount(kind: ModelKind, inputs: Int, classes: Int) -> Int {
        let k = kind == .softmaxRegression ? Swift.max(2, classes) : 1
        return k * inputs + k
    }

    public var parameterCount: Int { weights.count + intercepts.count }

    // MARK: prediction

    /// Raw scores of every output for this input.
    @inline(__always) mutating func score(_ x: [Double], _ sparse: SparseInput) {
        for k in 0..<outputs {
            let row = k * inputs
            var z = intercepts[k]
            for i in x.indices { z += weights[row + i] * x[i] }
            for j in 0..<sparse.indices.count { z += weights[row + sparse.indices[j]] * sparse.values[j] }
            raw[k] = z
        }
    }

    /// The prediction into `out` (`outputs` values): [P(y=1)], class probabilities, or [ŷ].
    public mutating func predict(_ x: [Double], sparse: SparseInput = .empty, into out: inout [Double]) {
        score(x, sparse)
        switch kind {
        case .logisticRegression: out[0] = sigmoid(raw[0])
        case .linearRegression: out[0] = raw[0]
        case .softmaxRegression: softmax(raw, into: &out)
        }
    }

    // MARK: learning

    /// The loss of one event at the current parameters (what `learn` descends).
    public mutating func loss(_ x: [Double], sparse: SparseInput = .empty, label y: Double) -> Double {
        var out = [Double](repeating: 0, count: outputs)
        predict(x, sparse: sparse, into: &out)
        // The same definitions the progressive metrics use.
        switch kind {
        case .logisticRegression: return Observation.binary(probability: out[0], label: y).loss
        case .softmaxRegression: return Observation.multiclass(probabilities: out, predicted: 0, label: Int(y)).loss
        case .linearRegression: return Observation.regression(prediction: out[0], target: y).loss
        }
    }

    /// d(loss)/d(raw score k) for the current event into `derivative`; false if not finite.
    /// `predicted` holds `predict`'s output for the event.
    @inline(__always) mutating func lossDerivatives(_ predicted: [Double], label y: Double) -> Bool {
        switch kind {
        case .logisticRegression: derivative[0] = predicted[0] - (y > 0.5 ? 1 : 0)
        case .linearRegression: derivative[0] = 2 * (predicted[0] - y)
        case .softmaxRegression:
            let c = Int(y)
            for k in 0..<outputs { derivative[k] = predicted[k] - (k == c ? 1 : 0) }
        }
        for k in 0..<outputs {
            guard derivative[k].isFinite else { return false }
            derivative[k] = Swift.max(-clipGradient, Swift.min(clipGradient, derivative[k]))
        }
        return true
    }

    /// One optimiser step on this event. `predicted` is the output of `predict` for the same
    /// input and parameters (progressive validation computes it anyway; not recomputed).
    /// The weights this event touches get the L2/L1 penalty (lazily, as sparse learners do).
    public mutating func learn(_ x: [Double], sparse: SparseInput = .empty, label y: Double, predicted: [Double]) {
        for v in x where !v.isFinite { return }
        for v in sparse.values where !v.isFinite { return }
        if kind == .softmaxRegression {
            guard y == y.rounded(), y >= 0, Int(y) < outputs else { return }
        }
        guard lossDerivatives(predicted, label: y) else { return }
        optimizer.beginStep()
        let interceptBase = weights.count
        for k in 0..<outputs {
            let g = derivative[k]
            let row = k * inputs
            if !fitIntercept {
                // River's SoftmaxRegression: no intercept.
            } else if let lr = interceptLR {
                intercepts[k] -= lr * g
            } else {
                optimizer.update(&intercepts[k], interceptBase + k, gradient: g, l1: 0, l2: 0)
            }
            for i in x.indices {
                optimizer.update(&weights[row + i], row + i, gradient: g * x[i], l1: l1, l2: l2)
            }
            for j in 0..<sparse.indices.count {
                let i = row + sparse.indices[j]
                optimizer.update(&weights[i], i, gradient: g * sparse.values[j], l1: l1, l2: l2)
            }
        }
    }

    /// Predict then learn on one event; the prediction is from before learning.
    public mutating func learn(_ x: [Double], sparse: SparseInput = .empty, label y: Double) {
        var out = [Double](repeating: 0, count: outputs)
        predict(x, sparse: sparse, into: &out)
        learn(x, sparse: sparse, label: y, predicted: out)
    }

    /// The analytic gradient of `loss` with respect to every parameter (weights, then
    /// intercepts), without penalties: what the finite-difference tests check.
    public mutating func gradient(_ x: [Double], sparse: SparseInput = .empty, label y: Double) -> [Double] {
        var out = [Double](repeating: 0, count: outputs)
        predict(x, sparse: sparse, into: &out)
        var g = [Double](repeating: 0, count: parameterCount)
        guard lossDerivatives(out, label: y) else { return g }
        for k in 0..<outputs {
            for i in x.indices { g[k * inputs + i] += derivative[k] * x[i] }
            for j in 0..<sparse.indices.count { g[k * inputs + sparse.indices[j]] += derivative[k] * sparse.values[j] }
            g[weights.count + k] = derivative[k]
        }
        return g
    }

    // MARK: parameters

    /// What is averaged across workers: the weights, then the intercepts.
    public var parameters: [Double] { weights + intercepts }

    public mutating func setParameters(_ p: [Double]) {
        precondition(p.count == parameterCount, "parameter count mismatch")
        for i in weights.indices {
            weights[i] = p[i]
            optimizer.adopt(p[i], i, l1: l1, l2: l2)
        }
        for k in intercepts.indices {
            intercepts[k] = p[weights.count + k]
            optimizer.adopt(intercepts[k], weights.count + k, l1: 0, l2: 0)
        }
    }
}

/// Numerically stable softmax (shifted by the maximum).
@inline(__always) public func softmax(_ z: [Double], into out: inout [Double]) {
    var m = -Double.infinity
    for v in z where v > m { m = v }
    var s = 0.0
    for k in z.indices {
        out[k] = exp(z[k] - m)
        s += out[k]
    }
    for k in z.indices { out[k] /= s }
}
