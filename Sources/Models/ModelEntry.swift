import Features

/// One model of the cluster (issue 11: champion and challengers). Every model reads the same
/// feature pipeline; a model may read only some of its dense features, and the hashed space
/// or not, so a cheaper or a richer model can run beside the champion.
public struct ModelEntry: Sendable, Codable, Equatable {
    public var name: String
    public var spec: ModelSpec
    /// The dense features it reads, by name (`FeatureSpec.denseNames`, in that order); empty
    /// = all of them.
    public var features: [String]
    /// Whether it reads the hashed inputs (categoricals, text) as well.
    public var hashed: Bool
    /// A/B split: the share of keys whose output-topic predictions this challenger makes
    /// (0 = shadow only). Ignored for the champion.
    public var abShare: Double
    public init(name: String, spec: ModelSpec, features: [String] = [], hashed: Bool = true, abShare: Double = 0) {
        self.name = name
        self.spec = spec
        self.features = features
        self.hashed = hashed
        self.abShare = abShare
    }

    /// The same model (name, spec, inputs), whatever its A/B share.
    public func sameModel(as o: ModelEntry) -> Bool {
        name == o.name && spec == o.spec && features == o.features && hashed == o.hashed
    }

    /// Why this entry cannot run on `featureSpec`, or nil. Errors name the offending value.
    public func problem(with featureSpec: FeatureSpec) -> String? {
        if let why = ModelLayout.nameProblem(name) { return "model name \(why)" }
        let known = featureSpec.denseNames
        for f in features where !known.contains(f) {
            return "model \(name): feature '\(f)' is not one of the cluster's dense features \(known)"
        }
        if Set(features).count != features.count { return "model \(name): features repeat" }
        guard abShare >= 0 && abShare <= 1 else { return "model \(name): ab_share \(abShare) is outside 0...1" }
        if spec.type == .softmaxRegression && spec.classes.count < 2 { return "model \(name): softmax_regression needs at least 2 classes" }
        return nil
    }
}
