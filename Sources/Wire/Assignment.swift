import Foundation
import Config
import Models

public struct Assignment: Sendable, Codable, Equatable {
    public var partitions: [PartitionLease]
    public init(partitions: [PartitionLease]) { self.partitions = partitions }
}
