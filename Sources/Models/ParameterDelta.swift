/// One worker's contribution to a sync round: what its parameters moved since the global
/// version it last adopted, and how many labelled samples moved them.
public struct ParameterDelta: Sendable, Equatable, Codable {
    public var worker: String
    public var baseVersion: Int
    public var samples: Int
    public var delta: [Double]
    public init(worker: String, baseVersion: Int, samples: Int, delta: [Double]) {
        self.worker = worker
        self.baseVersion = baseVersion
        self.samples = samples
        self.delta = delta
    }
}
