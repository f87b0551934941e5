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

    @inline(__always) public func raw(_ x: [Double]) -> Double {
        var z = intercept
        for i in x.indices { z += weights[i] * x[i] }
        return z
    }

    public func predictProba(_ x: [Double]) -> Double { sigmoid(raw(x)) }

    /// d(log loss)/d(raw) = p - y, clipped. NaN/Inf inputs are refused so that they never
    /// enter the weights (the caller dead-letters such events before they get here).
    public mutating func learn(_ x: [Double], label y: Double) {
        for v in x where !v.isFinite { return }
        var g = sigmoid(raw(x)) - (y > 0.5 ? 1 : 0)
        g = Swift.max(-clipGradient, Swift.min(clipGradient, g))
        guard g.isFinite else { return }
        intercept -= learningRate * g
        for i in x.indices {
            weights[i] -= learningRate * (g * x[i] + l2 * weights[i])
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

    public init(width: Int, learningRate: Double = 0.01, l2: Double = 0, standardize: Bool = true) {
        scaler = StandardScaler(width: width)
        model = LogisticRegression(width: width, learningRate: learningRate, l2: l2)
        self.standardize = standardize
        scratch = .init(repeating: 0, count: width)
    }

    public var width: Int { model.weights.count }

    public mutating func predictProba(_ x: [Double]) -> Double {
        guard standardize else { return model.predictProba(x) }
        scaler.transform(x, into: &scratch)
        return model.predictProba(scratch)
    }

    public mutating func learn(_ x: [Double], label: Double) {
        guard standardize else { model.learn(x, label: label); return }
        scaler.learn(x)
        scaler.transform(x, into: &scratch)
        model.learn(scratch, label: label)
    }

    /// Progressive validation step: the probability before learning, then learn if labelled.
    public mutating func predictThenLearn(_ x: [Double], label: Double?) -> Double {
        let p = predictProba(x)
        if let label { learn(x, label: label) }
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
