import Foundation
import Config
import Models

public struct Revoked: Sendable, Codable, Equatable {
    public var workerId: String
    /// Released partitions with their epochs and the offset committed for each.
    public var partitions: [PartitionLease]
    public var committed: [Int64]
    public init(workerId: String, partitions: [PartitionLease], committed: [Int64]) {
        self.workerId = workerId
        self.partitions = partitions
        self.committed = committed
    }
}
