import Wire

/// What the worker's shell lends its `PartitionDriver`: the link to the coordinator (a
/// stopped partition's `revoked`) and heartbeats while a long step runs.
protocol PartitionDriverHost: AnyObject {
    func send(_ m: WireMessage)
    func heartbeatIfDue(now: Int64)
}
