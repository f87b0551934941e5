/// A model trained offline, as `tools/export_sklearn.py` writes it (format
/// `tributary.model/2`, docs/CONFIG.md "Pre-trained models"): the dense features it reads by
/// name (optionally standard-scaled), an optional text block (`TextVectorizer`), and the
/// estimator over [dense | text] columns: linear, a neural network, or a tree ensemble.
/// Served, never trained: it is no part of the averaged parameter vector.
public struct PretrainedPipeline: Sendable, Codable, Equatable {
    public let format: String
    /// "binary", "multiclass" or "regression".
    public let task: String
    /// The scikit-learn estimator it came from (for messages and status).
    public let source: String?
    public let features: [String]
    public let classes: [String]?
    public let scaler: PretrainedModel.Scaler?
    public let text: TextVectorizer?
    public let estimator: PretrainedEstimator
    /// Built once from the fields above, shared by every copy.
    public private(set) var compiled: CompiledPipeline! = nil

    enum CodingKeys: String, CodingKey { case format, task, source, features, classes, scaler, text, estimator }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        task = try c.decode(String.self, forKey: .task)
        source = try c.decodeIfPresent(String.self, forKey: .source)
        features = try c.decode([String].self, forKey: .features)
        classes = try c.decodeIfPresent([String].self, forKey: .classes)
        scaler = try c.decodeIfPresent(PretrainedModel.Scaler.self, forKey: .scaler)
        text = try c.decodeIfPresent(TextVectorizer.self, forKey: .text)
        estimator = try c.decode(PretrainedEstimator.self, forKey: .estimator)
        compiled = CompiledPipeline(self)
    }

    public static func == (a: PretrainedPipeline, b: PretrainedPipeline) -> Bool {
        a.format == b.format && a.task == b.task && a.source == b.source && a.features == b.features && a.classes == b.classes
            && a.scaler == b.scaler && a.text == b.text && a.estimator == b.estimator
    }

    public static let currentFormat = "tributary.model/2"

    public init(task: ModelTask, source: String? = nil, features: [String], classes: [String]? = nil,
                scaler: PretrainedModel.Scaler? = nil, text: TextVectorizer? = nil, estimator: PretrainedEstimator) {
        format = Self.currentFormat
        self.task = task.rawValue
        self.source = source
        self.features = features
        self.classes = classes
        self.scaler = scaler
        self.text = text
        self.estimator = estimator
        compiled = CompiledPipeline(self)
    }

    /// Columns the estimator reads: the dense features, then the text block.
    public var width: Int { features.count + (text?.width ?? 0) }

    /// What the estimator's raw output must hold for `task` with `classes` classes.
    func rawWidth(classes k: Int) -> Set<Int> {
        switch (task, estimator.link) {
        case ("binary", .logistic): [1]
        case ("binary", .proba), ("binary", .softmax), ("binary", .ovr): [2]
        case ("multiclass", _): [k]
        default: [1]
        }
    }

    /// Why this file cannot run as `kind` on these features, or nil. Messages name the field.
    public func problem(kind: ModelKind, classes expected: [String], denseNames: [String], textFields: [String]) -> String? {
        guard format == Self.currentFormat else { return "'format' is \"\(format)\", expected \"\(Self.currentFormat)\"" }
        guard let t = ModelTask(rawValue: task) else { return "'task' is \"\(task)\", expected binary, multiclass or regression" }
        guard t == kind.task else {
            return "'task' is \(task) but model.type \(kind.rawValue) is \(kind.task.rawValue) (binary: logistic_regression, multiclass: softmax_regression, regression: linear_regression)"
        }
        for (i, f) in features.enumerated() where !denseNames.contains(f) {
            return "'features'[\(i)] \"\(f)\" is not one of the cluster's dense features (\(denseNames.prefix(8).joined(separator: ", "))\(denseNames.count > 8 ? ", ..." : ""))"
        }
        if Set(features).count != features.count { return "'features' repeats a name" }
        if let why = scaler?.problem(count: features.count, what: "feature") { return why }
        if let tv = text {
            if let why = tv.problem() { return why }
            guard textFields.contains(tv.field) else {
                return "'text.field' \"\(tv.field)\" is not a text field of the cluster: add [[features.text]] field = \"\(tv.field)\""
            }
        }
        if t == .multiclass {
            guard let c = classes, c == expected else {
                return "'classes' is \(classes ?? []), model.classes is \(expected) (same order required)"
            }
        }
        guard width > 0 else { return "the model reads no input ('features' and 'text' are empty)" }
        let widths = rawWidth(classes: expected.count)
        return estimator.problem(width: width, outputs: widths)
    }
}
