import Config
import Kafka
import Models
import Runtime

/// Writes what a record gives: a prediction record (built in a reused buffer, no Foundation),
/// or the input itself as a dead letter with headers naming the reason, source and worker.
/// Never drops: a full local queue is served and retried; an input too large to dead-letter
/// whole goes truncated and marked. The tracker learns of every output it queues.
final class RecordOutput {
    unowned let host: OutputHost
    let workerId: String
    var writer = OutputWriter()
    var deadLetters: Int64 = 0
    var deadLettersByReason: [String: Int64] = [:]
    var shadowPredictions: Int64 = 0
    var shadowFailed: Int64 = 0

    init(host: OutputHost, workerId: String) {
        self.host = host
        self.workerId = workerId
    }

    /// How much of an input that is too large to dead-letter whole goes to the dead letters.
    static let truncatedDeadLetterBytes = 64 << 10

    /// Model `i`'s prediction of the record the runner just ran, to `topic` (the output
    /// topic, delivery tracked by `tag`, or the shadow topic). Returns the error when it can
    /// never be queued (too large for message.max.bytes, or its topic is unknown). `models`
    /// and `runner` are inout only to be read in place, not copied (the caller's are stored
    /// properties of a class).
    func prediction(by i: Int, of models: inout ModelSet, runner: inout RecordRunner, classes: [String], version: Int,
                    run: PartitionRun, offset: Int64, producer: KafkaProducer, topic: String, tag: Int, withFeatures: Bool) -> KafkaError? {
        // The two stored fields, then the arithmetic on them: `models.models[i].score` (a
        // getter of another module) copied the whole model out of the array per record.
        let (kind, output) = (models.models[i].model.kind, models.models[i].output)
        let (score, predicted, multiclass) = (OnlineModel.score(kind, output), OnlineModel.predictedClass(kind, output), kind == .softmaxRegression)
        writer.prediction(partition: run.life.partition, offset: offset, key: runner.event.key, score: score,
                          label: runner.event.label, model: models.layout.models[i].name, modelVersion: version, worker: workerId,
                          epoch: run.life.epoch, timestamp: runner.event.timestamp, features: withFeatures ? runner.features : nil,
                          classes: multiclass ? classes : nil, predicted: predicted, probabilities: output)
        return writer.bytes.withUnsafeBytes { v in
            var key = runner.event.key
            return key.withUTF8 { k in
                produce(producer, run: run, topic: topic, key: UnsafeRawBufferPointer(k), value: v, headers: [], tag: tag, permanent: .giveUp)
            }
        }
    }

    /// A shadow prediction that was not delivered (or could not be queued): counted and
    /// logged, not replayed (the challenger's metrics do not depend on it).
    func shadowFailed(_ e: KafkaError) {
        shadowFailed += 1
        if shadowFailed <= 10 || shadowFailed % 1000 == 0 {
            host.log.warning("shadow prediction not delivered: \(e) (\(shadowFailed) so far)")
        }
    }

    func deadLetter(_ rec: borrowing ConsumedRecord, _ run: PartitionRun, producer: KafkaProducer, kafka: ClusterConfig.KafkaSection,
                    reason: String, error: String, tag: Int) {
        deadLetters += 1
        deadLettersByReason[reason, default: 0] += 1
        let headers = [("tributary.reason", reason), ("tributary.error", error),
                       ("tributary.source.topic", host.inputTopic),
                       ("tributary.source.partition", String(rec.partition)), ("tributary.source.offset", String(rec.offset)),
                       ("tributary.worker", workerId)]
        let dlq = kafka.deadLetterTopic
        if let e = produce(producer, run: run, topic: dlq, key: rec.key, value: rec.value, headers: headers, tag: tag,
                           permanent: .giveUp), run.txn !== producer {
            // Never queued whole (an input larger than the producer's message.max.bytes): its
            // first bytes go instead, marked, so the record is still accounted for with its
            // reason. The dead-letter topic is the last resort: this one is retried.
            let size = rec.value.count, keep = min(size, Self.truncatedDeadLetterBytes)
            let (partition, offset) = (rec.partition, rec.offset)
            host.log.error("partition \(partition) offset \(offset): dead letter of \(size) bytes could not be produced to \(dlq) (\(e)); writing its first \(keep) bytes")
            produce(producer, run: run, topic: dlq, key: rec.key, value: UnsafeRawBufferPointer(rebasing: rec.value[..<keep]),
                    headers: headers + [("tributary.truncated", "\(size) bytes, first \(keep) kept: \(e)")], tag: tag)
        }
        run.life.produced(rec.offset)
    }

    /// What `produce` does with an error that retrying cannot fix (too large for
    /// message.max.bytes, unknown topic or partition).
    enum PermanentError {
        /// Keep trying, heartbeats going on and the error in status, until an operator
        /// fixes the cause: for records nothing else can stand in for (the dead letters).
        case retry
        /// Give the error back: the caller has a fallback (a dead letter, a new capture).
        case giveUp
    }

    /// Never drops: a full local queue is served (delivery reports) and retried. A
    /// transactional producer's other errors fail its transaction (`run`'s): retrying could
    /// never succeed there (the transaction is in an error state), and the abort replays.
    /// Other errors are handled by `permanent`. Returns nil once the record is queued, or
    /// the error it was not queued for.
    @discardableResult
    func produce(_ producer: KafkaProducer, run: PartitionRun, topic: String, partition: Int32? = nil,
                 key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, headers: [(String, String)],
                 tag: Int, permanent: PermanentError = .retry) -> KafkaError? {
        var lastLog: Int64 = 0
        while true {
            do {
                try producer.produce(topic: topic, partition: partition, key: key, value: value, headers: headers, tag: tag)
                return nil
            } catch {
                let now = Clock.nowMs()
                if error.isQueueFull {
                    host.serveDeliveries(timeoutMs: 10)
                } else if run.txn === producer {
                    host.transactionFailed(run, error, replay: true)
                    return error
                } else if permanent == .giveUp {
                    host.kafkaTrouble("produce to \(topic)", error)
                    return error
                } else {
                    // Stuck until fixed, but alive: heartbeats keep the lease, status shows why.
                    host.kafkaTrouble("produce to \(topic)", error)
                    if now - lastLog >= 10_000 {
                        lastLog = now
                        host.log.error("produce to \(topic) failed: \(error); retrying until it can be queued")
                    }
                    host.serveDeliveries(timeoutMs: 100)
                }
                host.heartbeatIfDue(now: now)
            }
        }
    }
}
