/// Decision trees summed or averaged: scikit-learn's `RandomForest*` (average of the trees'
/// leaves; a classifier's leaves are class fractions), `GradientBoosting*` (base + scale ×
/// the sum, one tree per class and stage) and `HistGradientBoosting*` (base + the sum).
/// Stored as flat arrays per tree (the file format); scored as `CompiledTrees`, which
/// allocates nothing per record.
///
/// A node is a leaf when `left[n] == -1`; else x[feature] <= threshold goes left, a missing
/// (NaN) value goes left where `missing_left[n]` is 1 (scikit-learn's `missing_go_to_left`),
/// else right. `float32`: the input is rounded to Float before the comparison, as
/// scikit-learn's `DecisionTree*` do (the histogram trees compare float64).
public struct TreeEnsemble: Sendable, Codable, Equatable {
    public struct Tree: Sendable, Codable, Equatable {
        /// The raw output this tree adds to, or -1: every output (`value` has `outputs`
        /// numbers per node, as a forest classifier's class fractions).
        public var output: Int
        public var feature: [Int32]
        public var threshold: [Double]
        public var left: [Int32]
        public var right: [Int32]
        public var missingLeft: [UInt8]?
        public var value: [Double]

        enum CodingKeys: String, CodingKey { case output, feature, threshold, left, right, value, missingLeft = "missing_left" }

        public init(output: Int, feature: [Int32], threshold: [Double], left: [Int32], right: [Int32],
                    missingLeft: [UInt8]? = nil, value: [Double]) {
            self.output = output
            self.feature = feature
            self.threshold = threshold
            self.left = left
            self.right = right
            self.missingLeft = missingLeft
            self.value = value
        }
    }

    /// "average" (forests) or "sum" (boosting).
    public var combine: String
    public var float32: Bool
    /// Raw outputs before the link (1, or one per class).
    public var outputs: Int
    /// Boosting: the starting raw outputs (the initial estimator's) and each tree's factor.
    public var base: [Double]?
    public var scale: Double?
    public var link: PretrainedEstimator.Link
    public var trees: [Tree]

    public init(combine: String, float32: Bool, outputs: Int, base: [Double]? = nil, scale: Double? = nil,
                link: PretrainedEstimator.Link, trees: [Tree]) {
        self.combine = combine
        self.float32 = float32
        self.outputs = outputs
        self.base = base
        self.scale = scale
        self.link = link
        self.trees = trees
    }

    func problem(width: Int, outputs expected: Set<Int>) -> String? {
        guard combine == "average" || combine == "sum" else { return "'estimator.combine' is \"\(combine)\", expected average or sum" }
        guard expected.contains(outputs) else {
            return "'estimator.outputs' is \(outputs), expected \(expected.sorted().map(String.init).joined(separator: " or "))"
        }
        guard !trees.isEmpty else { return "'estimator.trees' is empty" }
        if let base, base.count != outputs || !base.allSatisfy(\.isFinite) {
            return "'estimator.base' has \(base.count) values (or a non-finite one), expected \(outputs)"
        }
        if let scale, !scale.isFinite { return "'estimator.scale' is not finite" }
        for (i, t) in trees.enumerated() {
            let n = t.feature.count
            let at = "'estimator.trees'[\(i)]"
            guard n >= 1, t.threshold.count == n, t.left.count == n, t.right.count == n, t.missingLeft.map({ $0.count == n }) ?? true else {
                return "\(at): feature, threshold, left, right (and missing_left) must have one entry per node (\(n), \(t.threshold.count), \(t.left.count), \(t.right.count)\(t.missingLeft.map { ", \($0.count)" } ?? ""))"
            }
            guard t.output >= -1 && t.output < outputs else { return "\(at).output is \(t.output), expected -1 or 0..<\(outputs)" }
            let per = t.output < 0 ? outputs : 1
            guard t.value.count == n * per else { return "\(at).value has \(t.value.count) values, expected \(n) nodes × \(per)" }
            guard t.value.allSatisfy(\.isFinite) else { return "\(at).value has a non-finite value" }
            for node in 0..<n {
                let l = Int(t.left[node]), r = Int(t.right[node])
                if l == -1 { continue }
                guard l > node && l < n && r > node && r < n else {
                    return "\(at) node \(node) points to children \(l) and \(r), outside \(node + 1)..<\(n) (the node array)"
                }
                let f = Int(t.feature[node])
                guard f >= 0 && f < width else { return "\(at) node \(node) splits on column \(f), outside 0..<\(width)" }
                guard !t.threshold[node].isNaN else { return "\(at) node \(node) has a NaN threshold" }
            }
        }
        return nil
    }
}
