#if canImport(Glibc)
import Glibc
#endif

/// Online standard scaling, River's `preprocessing.StandardScaler` exactly: running mean and
/// population variance per feature (Welford); a feature with zero variance scales to 0.
public struct StandardScaler: Sendable, Equatable, Codable {
    public private(set) var counts: [Double]
    public private(set) var means: [Double]
    public private(set) var vars: [Double]

    public init(width: Int) {
        counts = .init(repeating: 0, count: width)
        means = .init(repeating: 0, count: width)
        vars = .init(repeating: 0, count: width)
    }

    public mutating func learn(_ x: [Double]) {
        for i in x.indices {
            counts[i] += 1
            let old = means[i]
            means[i] += (x[i] - old) / counts[i]
            vars[i] += ((x[i] - old) * (x[i] - means[i]) - vars[i]) / counts[i]
        }
    }

    public func transform(_ x: [Double], into out: inout [Double]) {
        for i in x.indices {
            let v = vars[i]
            out[i] = v > 0 ? (x[i] - means[i]) / v.squareRoot() : 0
        }
    }
}

/// Sparse model inputs: parallel index/value arrays (indices into the full weight vector).
public struct SparseInput: Sendable, Equatable {
    public var indices: [Int]
    public var values: [Double]
    public init(indices: [Int], values: [Double]) {
        self.indices = indices
        self.values = values
    }
    public static let empty = SparseInput(indices: [], values: [])
}

@inline(__always) public func sigmoid(_ z: Double) -> Double {
    // Clamped so exp never overflows (River clamps the same way).
    let c = Swift.max(-500, Swift.min(500, z))
    return 1 / (1 + exp(-c))
}

/// Binary logistic regression trained by SGD on the log loss, River's
/// `linear_model.LogisticRegression()` defaults: zero init, constant learning rate for
/// weights and intercept, L2 added to the gradient as `l2 * w`, gradient clipped.
public struct LogisticRegression: Sendable, Equatable, Codable {
    public var weights: [Double]
    public var intercept: Double = 0
    public var learningRate: Double
    public var l2: Double
    public var clipGradient: Double = 1e12

    public init(width: Int, learningRate: Double = 0.01, l2: Double = 0) {
        weights = .init(repeating: 0, count: width)
        self.learningRate = learningRate
        self.l2 = l2
    }

    /// `x` covers the first x.count weights (the dense inputs); `sparse` holds (index,
    /// value) pairs anywhere in the weights (hashed inputs), so an event costs its non-zeros,
    /// not the 2^bits hashed space.
    @inline(__always) public func raw(_ x: [Double], sparse: SparseInput = .empty) -> Double {
        var z = intercept
        for i in x.indices { z += weights[i] * x[i] }
        for j in 0..<sparse.indices.count { z += weights[sparse.indices[j]] * sparse.values[j] }
        return z
    }

    public func predictProba(_ x: [Double], sparse: SparseInput = .empty) -> Double { sigmoid(raw(x, sparse: sparse)) }

    /// d(log loss)/d(raw) = p - y, clipped. NaN/Inf inputs are refused so that they never
    /// enter the weights (the caller dead-letters such events before they get here). L2
    /// applies to the weights this event touches (lazily, as a sparse learner must).
    public mutating func learn(_ x: [Double], sparse: SparseInput = .empty, label y: Double) {
        for v in x where !v.isFinite { return }
        for v in sparse.values where !v.isFinite { return }
        var g = sigmoid(raw(x, sparse: sparse)) - (y > 0.5 ? 1 : 0)
        g = Swift.max(-clipGradient, Swift.min(clipGradient, g))
        guard g.isFinite else { return }
        intercept -= learningRate * g
        for i in x.indices {
            weights[i] -= learningRate * (g * x[i] + l2 * weights[i])
        }
        for j in 0..<sparse.indices.count {
            let i = sparse.indices[j]
            weights[i] -= learningRate * (g * sparse.values[j] + l2 * weights[i])
        }
    }

    /// The parameters that are averaged across workers: weights, then the intercept.
    public var parameters: [Double] { weights + [intercept] }
    public mutating func setParameters(_ p: [Double]) {
        precondition(p.count == weights.count + 1, "parameter count mismatch")
        weights = Array(p.dropLast())
        intercept = p[p.count - 1]
    }
}

/// Scaler | logistic regression, predict then learn (progressive validation), with the
/// same per-event semantics as River's pipeline: predict scales with the statistics before
/// this event; learn first updates the scaler with the event, then trains on the event as
/// scaled by the updated statistics.
public struct OnlineClassifier: Sendable, Equatable, Codable {
    public var scaler: StandardScaler
    public var model: LogisticRegression
    public let standardize: Bool
    private var scratch: [Double]

    /// - width: dense inputs (scaled); hashedWidth: sparse inputs after them (not scaled:
    ///   hashed counts are already on a common scale, and scaling 2^bits columns per event
    ///   would cost the whole space).
    public init(width: Int, hashedWidth: Int = 0, learningRate: Double = 0.01, l2: Double = 0, standardize: Bool = true) {
        scaler = StandardScaler(width: width)
        model = LogisticRegression(width: width + hashedWidth, learningRate: learningRate, l2: l2)
        self.standardize = standardize
        scratch = .init(repeating: 0, count: width)
    }

    public var width: Int { model.weights.count }

    public mutating func predictProba(_ x: [Double], sparse: SparseInput = .empty) -> Double {
        guard standardize else { return model.predictProba(x, sparse: sparse) }
        scaler.transform(x, into: &scratch)
        return model.predictProba(scratch, sparse: sparse)
    }

    public mutating func learn(_ x: [Double], sparse: SparseInput = .empty, label: Double) {
        guard standardize else { model.learn(x, sparse: sparse, label: label); return }
        scaler.learn(x)
        scaler.transform(x, into: &scratch)
        model.learn(scratch, sparse: sparse, label: label)
    }

    /// Progressive validation step: the probability before learning, then learn if labelled.
    public mutating func predictThenLearn(_ x: [Double], sparse: SparseInput = .empty, label: Double?) -> Double {
        let p = predictProba(x, sparse: sparse)
        if let label { learn(x, sparse: sparse, label: label) }
        return p
    }
}

/// Running accuracy and log loss of probabilistic binary predictions, as River's
/// `metrics.Accuracy` (label = p > 0.5) and `metrics.LogLoss` (p clamped to [1e-15, 1-1e-15]).
public struct BinaryMetrics: Sendable, Equatable, Codable {
    public var count: Int = 0
    public var correct: Int = 0
    public var logLossSum: Double = 0

    public init() {}

    public mutating func update(probability p: Double, label y: Double) {
        let yTrue = y > 0.5
        count += 1
        if (p > 0.5) == yTrue { correct += 1 }
        let q = Swift.min(Swift.max(p, 1e-15), 1 - 1e-15)
        logLossSum += yTrue ? -log(q) : -log(1 - q)
    }

    public mutating func merge(_ o: BinaryMetrics) {
        count += o.count
        correct += o.correct
        logLossSum += o.logLossSum
    }

    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : 0 }
    public var logLoss: Double { count > 0 ? logLossSum / Double(count) : 0 }
}
