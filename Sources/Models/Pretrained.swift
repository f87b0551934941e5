/// Pre-trained weights (docs/CONFIG.md, "Pre-trained weights"), e.g. exported from
/// scikit-learn by `tools/export_sklearn.py`:
///
///     {"format": "tributary.linear/1", "type": "logistic_regression",
///      "features": ["f0", "f1"], "classes": ["0", "1"],
///      "coef": [[0.5, -1.2]], "intercept": [0.1],
///      "scaler": {"mean": [3.0, 1.5], "scale": [2.0, 0.5]}}
///
/// `coef` has one row per output (1 for binary and regression, one per class for softmax) and
/// one column per feature in Tributary's feature order; `scaler` (optional) is applied as
/// (x − mean) / scale before the model, as scikit-learn's StandardScaler does.
public struct PretrainedModel: Sendable, Codable, Equatable {
    public struct Scaler: Sendable, Codable, Equatable {
        public var mean: [Double]
        public var scale: [Double]
        public init(mean: [Double], scale: [Double]) {
            self.mean = mean
            self.scale = scale
        }

        /// Why this scaler does not fit `count` inputs (`what` names them), or nil.
        public func problem(count: Int, what: String) -> String? {
            guard mean.count == count, scale.count == count else {
                return "'scaler' has \(mean.count) means and \(scale.count) scales, expected \(count) (one per \(what))"
            }
            guard mean.allSatisfy(\.isFinite), scale.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                return "'scaler' has a non-finite mean or a negative/non-finite scale"
            }
            return nil
        }
    }
    public var format: String
    public var type: String
    public var features: [String]
    public var classes: [String]?
    public var coef: [[Double]]
    public var intercept: [Double]
    public var scaler: Scaler?

    public init(type: ModelKind, features: [String], classes: [String]? = nil, coef: [[Double]], intercept: [Double],
                scaler: Scaler? = nil) {
        format = Self.currentFormat
        self.type = type.rawValue
        self.features = features
        self.classes = classes
        self.coef = coef
        self.intercept = intercept
        self.scaler = scaler
    }

    public static let currentFormat = "tributary.linear/1"

    /// Weights output-major, then intercepts: `LinearModel.parameters` layout.
    public var parameters: [Double] { coef.flatMap { $0 } + intercept }

    /// Checks the file against the configured model and features. The message names the
    /// field that does not fit.
    public func validate(kind: ModelKind, classes expected: [String], featureNames: [String], denseCount: Int) -> String? {
        guard format == Self.currentFormat else { return "'format' is \"\(format)\", expected \"\(Self.currentFormat)\"" }
        guard type == kind.rawValue else { return "'type' is \"\(type)\" but model.type is \"\(kind.rawValue)\"" }
        if features != featureNames {
            if features.count != featureNames.count {
                return "'features' lists \(features.count) features, the feature spec has \(featureNames.count) (\(featureNames.prefix(8).joined(separator: ", "))\(featureNames.count > 8 ? ", ..." : ""))"
            }
            let i = zip(features, featureNames).enumerated().first { $0.element.0 != $0.element.1 }!.offset
            return "'features'[\(i)] is \"\(features[i])\", the feature spec has \"\(featureNames[i])\" there (same order required)"
        }
        let outputs = kind == .softmaxRegression ? expected.count : 1
        if kind == .softmaxRegression, let c = classes, c != expected {
            return "'classes' is \(c), model.classes is \(expected) (same order required)"
        }
        guard coef.count == outputs else { return "'coef' has \(coef.count) rows, expected \(outputs) (one per \(outputs > 1 ? "class" : "output"))" }
        for (r, row) in coef.enumerated() where row.count != featureNames.count {
            return "'coef'[\(r)] has \(row.count) values, expected \(featureNames.count) (one per feature)"
        }
        guard intercept.count == outputs else { return "'intercept' has \(intercept.count) values, expected \(outputs)" }
        if let (r, row) = coef.enumerated().first(where: { !$0.element.allSatisfy(\.isFinite) }) {
            return "'coef'[\(r)] has a non-finite value at \(row.firstIndex { !$0.isFinite }!)"
        }
        guard intercept.allSatisfy(\.isFinite) else { return "'intercept' has a non-finite value" }
        if let why = scaler?.problem(count: denseCount, what: "dense feature") { return why }
        return nil
    }
}
