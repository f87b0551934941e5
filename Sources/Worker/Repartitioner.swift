import Foundation
import Logging
import Config
import Features
import Kafka
import Runtime

/// `features.repartition = true`: re-keys the input by the key field before any per-key
/// state is touched, as Kafka Streams' `selectKey` does through a repartition topic. For each
/// input partition this worker holds, it reads the input, takes each record's key field and
/// writes the record unchanged to `kafka.repartitionTopic` with that key (partition by
/// librdkafka's murmur2, Java's default partitioner, so every record of a key lands in one
/// partition); the feature stage reads that topic instead of the input. A record with no key
/// (not JSON, no key field) goes to the dead letters with the reason, naming the field.
///
/// With `[labels]` a second one re-keys the label records the same way (by the same key field,
/// which label records then carry) into `kafka.labelsRepartitionTopic`, which the labels are
/// read from: a label lands on its event's partition whatever the producers keyed by.
///
/// At-least-once, like the rest of the path: an input offset is committed (in its own group,
/// `<group_id>.repartition` or `<group_id>.labels-repartition`) only once its re-keyed record,
/// and every one before it, is acknowledged; after a crash the uncommitted tail is re-keyed again. Owned by the worker's
/// one thread and driven by `PartitionDriver`, which starts and stops it with the partitions.
final class Repartitioner {
    unowned let host: PartitionDriverHost
    let log: Logger
    let workerId: String
    let inputTopic: String
    let topic: String
    let deadLetterTopic: String
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    private let parser: EventParser
    private var event: ParsedEvent
    private let commitIntervalMs: Int64
    private var lastCommit: Int64 = 0

    /// Per held input partition: what is delivered, and its generation (a report of a
    /// partition given up and taken again must not count).
    private var trackers: [Int32: (tracker: OffsetTracker, generation: Int)] = [:]
    private var generations = 0
    /// Delivery tag -> the input record it stands for.
    private var pending: [Int: (partition: Int32, offset: Int64, generation: Int)] = [:]
    private var nextTag = 0

    private(set) var rekeyed: Int64 = 0
    private(set) var deadLetters = 0
    private(set) var deadLettersByReason: [String: Int] = [:]

    private let keyField: String

    /// - labels: re-keys the labels topic (`[labels]`) rather than the input.
    init(settings: WorkerSettings, labels: Bool = false, consumerConfig: KafkaClientConfig, producerConfig: KafkaClientConfig,
         host: PartitionDriverHost, workerId: String, log: Logger) throws(KafkaError) {
        self.host = host
        self.log = log
        self.workerId = workerId
        let k = settings.kafka
        inputTopic = labels ? settings.labels.topic : k.inputTopic
        topic = labels ? k.labelsRepartitionTopic : k.repartitionTopic
        deadLetterTopic = k.deadLetterTopic
        var cc = consumerConfig
        cc["group.id"] = labels ? "\(k.groupId).labels-repartition" : "\(k.groupId).repartition"
        consumer = try KafkaConsumer(config: cc, batchSize: settings.worker.batchSize)
        var pc = producerConfig
        // Java's default partitioner: the same key lands where a Kafka Streams or Java
        // producer would put it (keys are never null here: a record without one is a dead letter).
        pc["partitioner"] = "murmur2_random"
        producer = try KafkaProducer(config: pc)
        let f = settings.features
        keyField = f.key
        parser = EventParser(keyPath: f.key, timestampPath: "", labelPath: "", numericPaths: [])
        event = parser.makeEvent()
        commitIntervalMs = Int64(settings.worker.commitIntervalMs)
    }

    var wakeupFDs: [Int32] { [consumer.wakeupFD(), producer.wakeupFD()] }
    func clearWakeups() {
        consumer.clearWakeup()
        producer.clearWakeup()
    }
    var inFlight: Int { producer.inFlight }

    /// Starts re-keying input partition `p` from its committed offset.
    func start(_ p: Int32) {
        guard trackers[p] == nil else { return }
        generations += 1
        trackers[p] = (OffsetTracker(), generations)
        do { try consumer.assign([TopicPartition(inputTopic, p)]) } catch {
            log.error("repartition: cannot read \(inputTopic)[\(p)]: \(error)")
        }
    }

    /// Stops re-keying `p`: what is delivered is committed; the rest is re-keyed by the next
    /// owner (at-least-once).
    func stop(_ p: Int32) {
        guard let t = trackers.removeValue(forKey: p) else { return }
        try? consumer.unassign([TopicPartition(inputTopic, p)])
        if let c = t.tracker.committable { try? consumer.commit([TopicPartition(inputTopic, p): c], async: true) }
    }

    /// Reads and re-keys up to a few batches, serves deliveries, commits on its interval.
    /// Returns whether records may be waiting.
    func turn(now: Int64, maxInFlight: Int, trouble: (String, KafkaError) -> Void) -> Bool {
        serveDeliveries(trouble: trouble)
        var more = false
        if !trackers.isEmpty && producer.inFlight < maxInFlight {
            for _ in 0..<4 {
                let n = consumer.poll(timeoutMs: 0, onError: { trouble("repartition consumer", $0) }) { rec in rekey(rec, trouble: trouble) }
                if n == 0 { break }
                more = true
                serveDeliveries(trouble: trouble)
            }
        }
        if now - lastCommit >= commitIntervalMs {
            lastCommit = now
            var offsets: [TopicPartition: Int64] = [:]
            for (p, t) in trackers { if let c = t.tracker.committable { offsets[TopicPartition(inputTopic, p)] = c } }
            if !offsets.isEmpty {
                do { try consumer.commit(offsets, async: true) } catch { trouble("repartition commit", error) }
            }
        }
        return more
    }

    private func rekey(_ rec: borrowing ConsumedRecord, trouble: (String, KafkaError) -> Void) {
        let p = rec.partition
        guard let t = trackers[p] else { return }
        nextTag += 1
        let tag = nextTag
        var headers: [(String, String)] = []
        var target = topic
        let key: [UInt8]
        do {
            try parser.parse(rec.value, into: &event)
            key = Array(event.key.utf8)
        } catch {
            // No key to re-key by: the input goes to the dead letters, with why.
            deadLetters += 1
            deadLettersByReason[error.reason, default: 0] += 1
            target = deadLetterTopic
            key = Array(rec.key)
            headers = [("tributary.reason", error.reason), ("tributary.error", "repartition by \(keyField): \(error)"),
                       ("tributary.source.topic", inputTopic),
                       ("tributary.source.partition", String(p)), ("tributary.source.offset", String(rec.offset)),
                       ("tributary.worker", workerId)]
        }
        // Never drops: a full local queue is served and retried; any other error (the topic
        // missing, the broker refusing) is retried too, in status, heartbeats going on.
        var lastLog: Int64 = 0
        let value = rec.value, timestampMs = rec.timestampMs
        while true {
            let r: Result<Void, KafkaError> = key.withUnsafeBytes { k in
                Result { () throws(KafkaError) in
                    try producer.produce(topic: target, key: k, value: value, headers: headers, timestampMs: timestampMs, tag: tag)
                }
            }
            guard case .failure(let error) = r else { break }
            let now = Clock.nowMs()
            if !error.isQueueFull {
                trouble("produce to \(target)", error)
                if now - lastLog >= 10_000 {
                    lastLog = now
                    log.error("repartition: produce to \(target) failed: \(error); retrying until it can be queued")
                }
            }
            producer.poll(timeoutMs: error.isQueueFull ? 10 : 100, onError: { trouble("repartition producer", $0) }) { dr in delivered(dr) }
            host.heartbeatIfDue(now: now)
        }
        pending[tag] = (p, rec.offset, t.generation)
        trackers[p]!.tracker.produced(rec.offset)
        if target == topic { rekeyed += 1 }
    }

    private func serveDeliveries(trouble: (String, KafkaError) -> Void) {
        producer.poll(timeoutMs: 0, onError: { trouble("repartition producer", $0) }) { dr in delivered(dr) }
    }

    private func delivered(_ dr: DeliveryReport) {
        guard let r = pending.removeValue(forKey: dr.tag) else { return }
        if let e = dr.error {
            // librdkafka gave up after its retries: re-read from the last commit, as the
            // feature stage does after a failed delivery.
            log.error("repartition: input \(inputTopic)[\(r.partition)] offset \(r.offset) not re-keyed: \(e); re-reading the partition from its last commit")
            if trackers[r.partition]?.generation == r.generation {
                stop(r.partition)
                start(r.partition)
            }
            return
        }
        guard trackers[r.partition]?.generation == r.generation else { return }
        trackers[r.partition]!.tracker.delivered(r.offset)
    }

    /// At shutdown: deliveries awaited (bounded), what is delivered committed.
    func close(timeoutMs: Int) {
        _ = producer.drain(timeoutMs: timeoutMs) { dr in delivered(dr) }
        var offsets: [TopicPartition: Int64] = [:]
        for (p, t) in trackers { if let c = t.tracker.committable { offsets[TopicPartition(inputTopic, p)] = c } }
        if !offsets.isEmpty { try? consumer.commit(offsets, async: false) }
    }
}
