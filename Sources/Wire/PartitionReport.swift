import Foundation
import Config
import Models

/// Per-partition progress as a worker reports it.
public struct PartitionReport: Sendable, Codable, Equatable {
    public var partition: Int32
    public var epoch: Int
    /// Next offset to read.
    public var position: Int64
    /// Last committed offset (next to read after a restart).
    public var committed: Int64
    /// High watermark minus position (records not yet read), -1 if unknown.
    public var lag: Int64
    public var processed: Int64
    /// Keys with feature state, and the size of that state as last written in full to the
    /// changelog (bytes; 0 before the first snapshot).
    public var keys: Int
    public var stateBytes: Int = 0
    /// Time the last restore from the changelog took (ms), and the keys it brought back.
    public var restoreMs: Int64 = 0
    public var restoredKeys: Int = 0
    public init(partition: Int32, epoch: Int, position: Int64, committed: Int64, lag: Int64, processed: Int64, keys: Int) {
        self.partition = partition
        self.epoch = epoch
        self.position = position
        self.committed = committed
        self.lag = lag
        self.processed = processed
        self.keys = keys
    }
}
