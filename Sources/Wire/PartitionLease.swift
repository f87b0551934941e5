import Foundation
import Config
import Models

/// One partition held under an epoch. The epoch grows on every (re)assignment of that
/// partition; predictions carry it, so two owners can be told apart.
public struct PartitionLease: Sendable, Codable, Equatable, Hashable {
    public var partition: Int32
    public var epoch: Int
    public init(partition: Int32, epoch: Int) {
        self.partition = partition
        self.epoch = epoch
    }
}
