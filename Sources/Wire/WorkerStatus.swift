import Foundation
import Config
import Models

public struct WorkerStatus: Sendable, Codable, Equatable {
    public var workerId: String
    public var host: String
    public var pid: Int32
    public var state: MemberState
    public var partitions: [PartitionLease]
    public var lastHeartbeatMsAgo: Int64
    public var report: WorkerReport?
    public init(workerId: String, host: String, pid: Int32, state: MemberState, partitions: [PartitionLease],
                lastHeartbeatMsAgo: Int64, report: WorkerReport?) {
        self.workerId = workerId
        self.host = host
        self.pid = pid
        self.state = state
        self.partitions = partitions
        self.lastHeartbeatMsAgo = lastHeartbeatMsAgo
        self.report = report
    }
}
