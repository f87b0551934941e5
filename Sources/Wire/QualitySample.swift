/// One point of the cluster's quality over time (`tributary report`): when, the global model
/// version, drift detections so far, and each model's recent figures (its rolling window,
/// merged over the workers), by model name.
public struct QualitySample: Sendable, Codable, Equatable {
    public var wallMs: Int64
    public var version: Int
    public var driftDetections: Int
    public var champion: String
    public var models: [String: [String: Double]]

    public init(wallMs: Int64, version: Int, driftDetections: Int, champion: String, models: [String: [String: Double]]) {
        self.wallMs = wallMs
        self.version = version
        self.driftDetections = driftDetections
        self.champion = champion
        self.models = models
    }
}
