import Foundation
import Config
import Models

public struct Welcome: Sendable, Codable, Equatable {
    public var workerId: String
    /// The Kafka bootstrap servers in use (the embedded broker's when embedded).
    public var bootstrap: String
    /// What the worker needs of `cluster.conf`.
    public var settings: WorkerSettings
    public var heartbeatMs: Int
    /// Stop all partitions when nothing is heard from the coordinator for this long.
    public var leaseMs: Int
    /// The global model to start from (version 0 = untrained).
    public var modelVersion: Int
    public var modelParameters: [Double]
    /// The models the cluster runs now (deploys and promotions since the config was read);
    /// nil from a coordinator that predates them: `settings.layout`.
    public var layout: ModelLayout?
    /// This coordinator process (its start, wall ms): a welcome from another one means the
    /// merge state a delta in flight went to is gone, and the worker drops that delta at once
    /// (its progress goes in the next one). nil from coordinators that predate it.
    public var incarnation: Int64?
    /// Every coordinator of the cluster (`coordinator.endpoints`, issue 23): a worker started
    /// with one address learns the others, to fail over to. nil or empty: just this one.
    public var coordinators: [String]?
    public init(workerId: String, bootstrap: String, settings: WorkerSettings, heartbeatMs: Int, leaseMs: Int,
                modelVersion: Int = 0, modelParameters: [Double] = [], layout: ModelLayout? = nil) {
        self.layout = layout
        self.workerId = workerId
        self.bootstrap = bootstrap
        self.settings = settings
        self.heartbeatMs = heartbeatMs
        self.leaseMs = leaseMs
        self.modelVersion = modelVersion
        self.modelParameters = modelParameters
    }
}
