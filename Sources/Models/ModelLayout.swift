import Features

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
    public static func nameProblem(_ s: String) -> String? {
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
