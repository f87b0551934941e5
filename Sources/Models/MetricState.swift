#if canImport(Glibc)
import Glibc
#endif

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

    enum CodingKeys: String, CodingKey {
        case task, count, correct, lossSum, positives, negatives, confusion, classes
        case absErrorSum, squaredErrorSum, targetSum, targetSquaredSum
    }

    /// The count arrays travel packed (`PackedCounts`); plain JSON arrays are read too.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(task, forKey: .task)
        try c.encode(count, forKey: .count)
        try c.encode(correct, forKey: .correct)
        try c.encode(lossSum, forKey: .lossSum)
        try c.encode(PackedCounts.encode(positives), forKey: .positives)
        try c.encode(PackedCounts.encode(negatives), forKey: .negatives)
        try c.encode(PackedCounts.encode(confusion), forKey: .confusion)
        try c.encode(classes, forKey: .classes)
        try c.encode(absErrorSum, forKey: .absErrorSum)
        try c.encode(squaredErrorSum, forKey: .squaredErrorSum)
        try c.encode(targetSum, forKey: .targetSum)
        try c.encode(targetSquaredSum, forKey: .targetSquaredSum)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func counts(_ key: CodingKeys) throws -> [Int64] {
            if let text = try? c.decode(String.self, forKey: key) {
                guard let v = PackedCounts.decode(text) else {
                    throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not packed counts")
                }
                return v
            }
            return try c.decodeIfPresent([Int64].self, forKey: key) ?? []
        }
        task = try c.decode(ModelTask.self, forKey: .task)
        count = try c.decodeIfPresent(Int64.self, forKey: .count) ?? 0
        correct = try c.decodeIfPresent(Int64.self, forKey: .correct) ?? 0
        lossSum = try c.decodeIfPresent(Double.self, forKey: .lossSum) ?? 0
        positives = try counts(.positives)
        negatives = try counts(.negatives)
        confusion = try counts(.confusion)
        classes = try c.decodeIfPresent(Int.self, forKey: .classes) ?? 0
        absErrorSum = try c.decodeIfPresent(Double.self, forKey: .absErrorSum) ?? 0
        squaredErrorSum = try c.decodeIfPresent(Double.self, forKey: .squaredErrorSum) ?? 0
        targetSum = try c.decodeIfPresent(Double.self, forKey: .targetSum) ?? 0
        targetSquaredSum = try c.decodeIfPresent(Double.self, forKey: .targetSquaredSum) ?? 0
    }

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
