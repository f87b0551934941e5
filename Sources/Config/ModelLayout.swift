import Features
import Models

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

/// The models a cluster runs and which one is the champion. Changes to it travel with the
/// global model version (`ModelUpdate.layout`), so every worker switches at the same version.
public struct ModelLayout: Sendable, Codable, Equatable {
    public var models: [ModelEntry]
    public var champion: String
    public init(models: [ModelEntry], champion: String) {
        self.models = models
        self.champion = champion
    }

    public var championIndex: Int { models.firstIndex { $0.name == champion } ?? 0 }
    public func index(of name: String) -> Int? { models.firstIndex { $0.name == name } }

    /// Same models (names, specs, inputs; A/B shares aside): parameters and scaler moments
    /// keep their places.
    public func sameModels(as o: ModelLayout) -> Bool {
        models.count == o.models.count && zip(models, o.models).allSatisfy { $0.sameModel(as: $1) }
    }

    /// Why `s` cannot name a model, or nil: names appear in status, logs and every prediction.
    static func nameProblem(_ s: String) -> String? {
        let valid = !s.isEmpty && s.count <= 64 && s.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F || $0 == 0x2E
        }
        return valid ? nil : "'\(s)' must be 1-64 letters, digits, '-', '_' or '.'"
    }

    /// Why this layout cannot run on `featureSpec`, or nil.
    public func problem(with featureSpec: FeatureSpec) -> String? {
        guard !models.isEmpty else { return "no models" }
        if Set(models.map(\.name)).count != models.count { return "model names repeat" }
        guard index(of: champion) != nil else { return "the champion '\(champion)' is not one of the models \(models.map(\.name))" }
        let tasks = Set(models.map { $0.spec.type.task })
        if tasks.count > 1 { return "models of different tasks (\(tasks.map(\.rawValue).sorted())) cannot share one label" }
        let share = models.filter { $0.name != champion }.reduce(0) { $0 + $1.abShare }
        if share > 1 + 1e-9 { return "the challengers' ab_share add up to \(share), more than 1" }
        for m in models { if let p = m.problem(with: featureSpec) { return p } }
        return nil
    }
}

/// Where each model's parameters and scaler moments sit in the cluster's one parameter
/// vector. The sync machinery (deltas, robust averaging, merge, checkpoints) sees a single
/// vector, so several models cost nothing new there: they are concatenated. Scaler moments
/// are laid out [counts | Σx | Σx²] over all models' inputs, as one `StandardScaler`'s are,
/// so the robust bounds on them apply unchanged.
public struct ModelGeometry: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        public var name: String
        /// Indices into the pipeline's dense features; nil = all of them, in order.
        public var denseIndices: [Int]?
        public var dense: Int
        public var hashed: Int
        public var parameterOffset: Int
        public var parameterCount: Int
        /// Inputs with online scaling (0 without an online scaler).
        public var scalerOffset: Int
        public var scalerWidth: Int
        public var parameterRange: Range<Int> { parameterOffset..<(parameterOffset + parameterCount) }
    }
    public let parts: [Part]
    public let parameterCount: Int
    public let scalerWidth: Int

    public init(_ layout: ModelLayout, features: FeatureSpec) {
        let names = features.denseNames
        var parts: [Part] = []
        var p = 0, s = 0
        for m in layout.models {
            let idx: [Int]? = m.features.isEmpty || m.features == names ? nil : m.features.compactMap { names.firstIndex(of: $0) }
            let dense = idx?.count ?? names.count
            let hashed = m.hashed ? features.hashedWidth : 0
            let count = m.spec.parameterCount(inputs: dense + hashed)
            let scaled = m.spec.standardize && m.spec.learns && m.spec.pretrained?.scaler == nil ? dense : 0
            parts.append(Part(name: m.name, denseIndices: idx, dense: dense, hashed: hashed,
                              parameterOffset: p, parameterCount: count, scalerOffset: s, scalerWidth: scaled))
            p += count
            s += scaled
        }
        self.parts = parts
        parameterCount = p
        scalerWidth = s
    }

    public func parameters(_ all: [Double], of i: Int) -> ArraySlice<Double> {
        all[parts[i].parameterRange]
    }

    /// `all` with model `i`'s parameters replaced by `p` (import into one model, a weights
    /// file for the champion): the other models keep theirs.
    public func replacing(_ all: [Double], of i: Int, with p: [Double]) -> [Double] {
        var out = all
        out.replaceSubrange(parts[i].parameterRange, with: p)
        return out
    }

    /// The cluster layout [counts | Σx | Σx²] from each model's own (`StandardScaler.moments`).
    public func joinScaler(_ perModel: [[Double]]) -> [Double] {
        guard scalerWidth > 0 else { return [] }
        var out = [Double](repeating: 0, count: 3 * scalerWidth)
        for (i, part) in parts.enumerated() where part.scalerWidth > 0 && perModel[i].count == 3 * part.scalerWidth {
            for k in 0..<3 {
                for j in 0..<part.scalerWidth { out[k * scalerWidth + part.scalerOffset + j] = perModel[i][k * part.scalerWidth + j] }
            }
        }
        return out
    }

    /// Model `i`'s moments out of the cluster layout (empty: it has no online scaler).
    public func scaler(_ all: [Double], of i: Int) -> [Double] {
        let part = parts[i]
        guard part.scalerWidth > 0, all.count == 3 * scalerWidth else { return [] }
        var out = [Double](repeating: 0, count: 3 * part.scalerWidth)
        for k in 0..<3 {
            for j in 0..<part.scalerWidth { out[k * part.scalerWidth + j] = all[k * scalerWidth + part.scalerOffset + j] }
        }
        return out
    }

    /// Carries parameters and scaler moments from one layout to another (deploy, retire):
    /// a model in both keeps its own; new model `i` starts from `fresh(i)`: its weights,
    /// optionally followed by its scaler's raw moments (as `StandardScaler.moments`), or
    /// empty for zeros and an empty scaler.
    public static func remap(parameters: [Double], scaler: [Double], from old: (ModelLayout, ModelGeometry),
                             to new: (ModelLayout, ModelGeometry),
                             fresh: (Int) -> [Double]) -> (parameters: [Double], scaler: [Double]) {
        var params: [Double] = []
        params.reserveCapacity(new.1.parameterCount)
        var perModel: [[Double]] = []
        for (i, m) in new.0.models.enumerated() {
            let part = new.1.parts[i]
            if let j = old.0.models.firstIndex(where: { $0.sameModel(as: m) }), parameters.count == old.1.parameterCount {
                params += old.1.parameters(parameters, of: j)
                perModel.append(old.1.scaler(scaler, of: j))
            } else {
                let f = fresh(i)
                let warm = f.count == part.parameterCount || f.count == part.parameterCount + 3 * part.scalerWidth
                params += warm ? Array(f.prefix(part.parameterCount)) : [Double](repeating: 0, count: part.parameterCount)
                perModel.append(warm && f.count > part.parameterCount ? Array(f.suffix(3 * part.scalerWidth))
                                : [Double](repeating: 0, count: 3 * part.scalerWidth))
            }
        }
        return (params, new.1.scalerWidth == 0 ? [] : new.1.joinScaler(perModel))
    }
}

/// `[lifecycle]`: shadow scoring and the promotion rule (docs/CONFIG.md).
public struct LifecycleSection: Sendable, Codable, Equatable {
    /// Challengers' predictions (and the champion's for keys an A/B split gives a
    /// challenger) go here; "" = nowhere (their metrics are still kept).
    public var shadowTopic = ""
    /// "" = promotion by command only; else the metric the rule compares.
    public var promoteMetric = ""
    /// How much better (absolute) the challenger must be.
    public var promoteMargin = 0.01
    /// Labelled records the challenger must have scored cluster-wide before the rule looks.
    public var promoteMinRecords = 2000
    public init() {}

    /// Metrics where lower is better.
    public static let lowerIsBetter: Set<String> = ["log_loss", "mae", "rmse"]
    public static let metrics = ["accuracy", "log_loss", "roc_auc", "macro_f1", "mae", "rmse", "r2"]
}
