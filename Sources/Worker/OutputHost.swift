import Kafka
import Logging

/// What the worker's shell lends its `RecordOutput`: while the producer's local queue is
/// full it serves delivery reports, a transactional producer's error fails that partition's
/// transaction, Kafka trouble shows in status, and heartbeats go on while a record waits.
protocol OutputHost: AnyObject {
    var log: Logger { get }
    /// The topic the records come from (dead letters name it as their source).
    var inputTopic: String { get }
    func serveDeliveries(timeoutMs: Int32)
    func transactionFailed(_ run: PartitionRun, _ error: KafkaError, replay: Bool)
    func kafkaTrouble(_ client: String, _ e: KafkaError)
    func heartbeatIfDue(now: Int64)
}
