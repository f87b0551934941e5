import Foundation
import Config
import Models

public struct Hello: Sendable, Codable, Equatable {
    public var workerId: String
    public var host: String
    public var pid: Int32
    /// Partitions this worker still runs (after a coordinator restart): adopted, not moved.
    public var held: [PartitionLease]
    public init(workerId: String, host: String, pid: Int32, held: [PartitionLease]) {
        self.workerId = workerId
        self.host = host
        self.pid = pid
        self.held = held
    }
}
