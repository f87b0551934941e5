#if canImport(Glibc)
import Glibc
#endif

/// One progressive-validation outcome: the prediction made before learning, and the label.
public struct Observation: Sendable, Equatable {
    /// 0/1, the class index, or the regression target.
    public var label: Double
    /// P(y=1), the predicted class index, or ŷ.
    public var prediction: Double
    /// The event's loss: log loss, cross-entropy, or squared error.
    public var loss: Double

    public init(label: Double, prediction: Double, loss: Double) {
        self.label = label
        self.prediction = prediction
        self.loss = loss
    }

    /// Probabilities are clamped to [1e-15, 1 − 1e-15] for the loss, as River's metrics do.
    public static func binary(probability p: Double, label y: Double) -> Observation {
        let q = Swift.min(Swift.max(p, 1e-15), 1 - 1e-15)
        return Observation(label: y > 0.5 ? 1 : 0, prediction: p, loss: y > 0.5 ? -log(q) : -log(1 - q))
    }

    public static func multiclass(probabilities: [Double], predicted: Int, label y: Int) -> Observation {
        let q = Swift.min(Swift.max(probabilities[y], 1e-15), 1 - 1e-15)
        return Observation(label: Double(y), prediction: Double(predicted), loss: -log(q))
    }

    public static func regression(prediction: Double, target: Double) -> Observation {
        Observation(label: target, prediction: prediction, loss: (prediction - target) * (prediction - target))
    }
}

/// Sufficient statistics of the progressive metrics. Every field is a sum, so states merge
/// across workers (cluster-wide figures) and an observation can be taken out again (rolling
/// windows) exactly.
public struct MetricState: Sendable, Codable, Equatable {
    public var task: ModelTask
    public var count: Int64 = 0
    public var correct: Int64 = 0
    public var lossSum = 0.0
    /// Binary: predictions of positives and negatives binned by logit (ROC AUC).
    public var positives: [Int64] = []
    public var negatives: [Int64] = []
    /// Multiclass: confusion counts, row = true class, column = predicted (macro-F1).
    public var confusion: [Int64] = []
    public var classes: Int = 0
    /// Regression: Σ|e|, Σe², Σy, Σy² (MAE, RMSE, R²).
    public var absErrorSum = 0.0
    public var squaredErrorSum = 0.0
    public var targetSum = 0.0
    public var targetSquaredSum = 0.0

    /// AUC bins: 256 over logit(p) ∈ [−8, 8] (p from 3e-4 to 0.9997), each 1/16 logit wide,
    /// so confident predictions near 0 and 1 are still told apart. Ties within a bin count ½.
    public static let aucBins = 256
    static let logitRange = 8.0

    public init(task: ModelTask, classes: Int = 2) {
        self.task = task
        switch task {
        case .binary:
            positives = .init(repeating: 0, count: Self.aucBins)
            negatives = .init(repeating: 0, count: Self.aucBins)
        case .multiclass:
            self.classes = classes
            confusion = .init(repeating: 0, count: classes * classes)
        case .regression: break
        }
    }

    static func bin(_ p: Double) -> Int {
        let q = Swift.min(Swift.max(p, 1e-300), 1 - 1e-16)
        let logit = log(q / (1 - q))
        let b = Int(((logit + logitRange) / (2 * logitRange) * Double(aucBins)).rounded(.down))
        return Swift.max(0, Swift.min(aucBins - 1, b))
    }

    /// Adds (`sign` 1) or removes (`sign` −1) one observation.
    public mutating func apply(_ o: Observation, sign: Int64 = 1) {
        let s = Double(sign)
        count += sign
        lossSum += s * o.loss
        switch task {
        case .binary:
            if (o.prediction > 0.5) == (o.label > 0.5) { correct += sign }
            if o.label > 0.5 { positives[Self.bin(o.prediction)] += sign } else { negatives[Self.bin(o.prediction)] += sign }
        case .multiclass:
            let y = Int(o.label), p = Int(o.prediction)
            if y == p { correct += sign }
            if y >= 0, y < classes, p >= 0, p < classes { confusion[y * classes + p] += sign }
        case .regression:
            let e = o.prediction - o.label
            absErrorSum += s * abs(e)
            squaredErrorSum += s * e * e
            targetSum += s * o.label
            targetSquaredSum += s * o.label * o.label
        }
    }

    /// Adds another worker's state (same task and shape; a mismatched one is ignored).
    public mutating func merge(_ o: MetricState) {
        guard o.task == task, o.positives.count == positives.count, o.confusion.count == confusion.count else { return }
        count += o.count
        correct += o.correct
        lossSum += o.lossSum
        for i in positives.indices { positives[i] += o.positives[i]; negatives[i] += o.negatives[i] }
        for i in confusion.indices { confusion[i] += o.confusion[i] }
        absErrorSum += o.absErrorSum
        squaredErrorSum += o.squaredErrorSum
        targetSum += o.targetSum
        targetSquaredSum += o.targetSquaredSum
    }

    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : 0 }
    /// Mean loss: log loss (binary), cross-entropy (multiclass), MSE (regression).
    public var meanLoss: Double { count > 0 ? lossSum / Double(count) : 0 }

    /// Area under the ROC curve: P(score of a random positive > score of a random negative),
    /// ties ½. 0 until both classes were seen.
    public var rocAUC: Double {
        var p = 0.0, n = 0.0
        for i in positives.indices { p += Double(positives[i]); n += Double(negatives[i]) }
        guard p > 0, n > 0 else { return 0 }
        var below = 0.0, area = 0.0
        for i in positives.indices {
            area += Double(positives[i]) * (below + 0.5 * Double(negatives[i]))
            below += Double(negatives[i])
        }
        return area / (p * n)
    }

    /// Mean over classes seen (as label or prediction) of F1 = 2·TP / (2·TP + FP + FN),
    /// River's `MacroF1`.
    public var macroF1: Double {
        guard classes > 0 else { return 0 }
        var sum = 0.0, seen = 0
        for c in 0..<classes {
            let tp = Double(confusion[c * classes + c])
            var fp = 0.0, fn = 0.0
            for o in 0..<classes where o != c {
                fp += Double(confusion[o * classes + c])
                fn += Double(confusion[c * classes + o])
            }
            guard tp + fp + fn > 0 else { continue }
            seen += 1
            sum += 2 * tp / (2 * tp + fp + fn)
        }
        return seen > 0 ? sum / Double(seen) : 0
    }

    public var mae: Double { count > 0 ? absErrorSum / Double(count) : 0 }
    public var rmse: Double { count > 0 ? (squaredErrorSum / Double(count)).squareRoot() : 0 }
    /// 1 − SSE/SST; 0 while the targets have no variance.
    public var r2: Double {
        guard count > 1 else { return 0 }
        let sst = targetSquaredSum - targetSum * targetSum / Double(count)
        return sst > 1e-12 ? 1 - squaredErrorSum / sst : 0
    }

    /// The figures by name, with the count (JSON status, metrics).
    public var summary: [String: Double] {
        var d = ["count": Double(count)]
        for f in figures { d[f.name] = f.value }
        return d
    }

    /// The figures a person reads, by task.
    public var figures: [(name: String, value: Double)] {
        switch task {
        case .binary: [("accuracy", accuracy), ("log_loss", meanLoss), ("roc_auc", rocAUC)]
        case .multiclass: [("accuracy", accuracy), ("log_loss", meanLoss), ("macro_f1", macroF1)]
        case .regression: [("mae", mae), ("rmse", rmse), ("r2", r2)]
        }
    }
}

/// Page-Hinkley test for an increase in the mean of a stream (here: the running loss, so a
/// detection means the model got worse). River's `drift.PageHinkley(mode="up")`, the same
/// update and defaults.
public struct PageHinkley: Sendable, Codable, Equatable {
    public var minInstances = 30
    public var delta = 0.005
    public var threshold = 50.0
    public var alpha = 1 - 0.0001
    private var n = 0
    private var mean = 0.0
    private var sum = 0.0
    private var minimum = Double.infinity
    /// The current test statistic (sum − its minimum); a detection when it passes `threshold`.
    public private(set) var statistic = 0.0

    public init(minInstances: Int = 30, delta: Double = 0.005, threshold: Double = 50) {
        self.minInstances = minInstances
        self.delta = delta
        self.threshold = threshold
    }

    /// Returns true when drift is detected; the test then starts afresh.
    public mutating func update(_ x: Double) -> Bool {
        n += 1
        mean += (x - mean) / Double(n)
        sum = alpha * sum + (x - mean) - delta
        if sum < minimum { minimum = sum }
        statistic = sum - minimum
        guard n >= minInstances, statistic > threshold else { return false }
        // Start afresh (River resets on the next update; the same sequence of detections).
        n = 0
        mean = 0
        sum = 0
        minimum = .infinity
        return true
    }
}

/// Whole-run and rolling-window metrics plus drift detection on the loss: what each worker
/// reports (and the coordinator merges into cluster-wide figures).
public struct EvaluationReport: Sendable, Codable, Equatable {
    public var whole: MetricState
    /// The last `windowSize` labelled predictions (per worker; merged, the union of them).
    public var window: MetricState
    public var windowSize: Int
    public var driftDetections = 0
    /// Labelled predictions seen at the latest detection (0: none yet).
    public var lastDriftAt: Int64 = 0
    /// The current Page-Hinkley statistic and its threshold.
    public var driftStatistic = 0.0
    public var driftThreshold = 0.0

    public init(task: ModelTask, classes: Int, windowSize: Int) {
        whole = MetricState(task: task, classes: classes)
        window = whole
        self.windowSize = windowSize
    }

    public mutating func merge(_ o: EvaluationReport) {
        whole.merge(o.whole)
        window.merge(o.window)
        driftDetections += o.driftDetections
        lastDriftAt = Swift.max(lastDriftAt, o.lastDriftAt)
        driftStatistic = Swift.max(driftStatistic, o.driftStatistic)
        driftThreshold = Swift.max(driftThreshold, o.driftThreshold)
    }
}

public struct Evaluation: Sendable {
    public private(set) var report: EvaluationReport
    private var ring: [Observation] = []
    private var next = 0
    private var detector: PageHinkley?

    /// `drift` nil: no drift detection.
    public init(task: ModelTask, classes: Int = 2, windowSize: Int = 1000, drift: PageHinkley? = PageHinkley()) {
        report = EvaluationReport(task: task, classes: classes, windowSize: Swift.max(1, windowSize))
        ring.reserveCapacity(report.windowSize)
        detector = drift
        report.driftThreshold = drift?.threshold ?? 0
    }

    /// Records one outcome; returns true if it set off drift detection.
    @discardableResult
    public mutating func observe(_ o: Observation) -> Bool {
        report.whole.apply(o)
        report.window.apply(o)
        if ring.count < report.windowSize {
            ring.append(o)
        } else {
            report.window.apply(ring[next], sign: -1)
            ring[next] = o
            next = (next + 1) % report.windowSize
        }
        guard detector != nil, o.loss.isFinite else { return false }
        let drift = detector!.update(o.loss)
        report.driftStatistic = detector!.statistic
        if drift {
            report.driftDetections += 1
            report.lastDriftAt = report.whole.count
        }
        return drift
    }
}

extension ModelTask {
    /// The figures `MetricState.figures` gives for this task, by name.
    public var metricNames: [String] {
        switch self {
        case .binary: ["accuracy", "log_loss", "roc_auc"]
        case .multiclass: ["accuracy", "log_loss", "macro_f1"]
        case .regression: ["mae", "rmse", "r2"]
        }
    }
}
