import Logging
import Config
import Features
import Kafka
import Runtime

/// `[labels]`: reads the labels topic for the input partitions this worker holds (labels are
/// keyed like their events, so label partition p goes with input partition p) and hands each
/// label to the partition's `LabelJoin` through `PartitionDriver`. A label record with no id,
/// no label or a bad value is a dead letter with the reason, naming the field.
///
/// Labels are read ahead into a queue per partition and handed over in event-time order as
/// the partition's events pass them (`take`), so a label is learnt before the first event
/// after it and not earlier (River's delayed progressive validation). A partition's queue
/// holds at most `queueLimit` labels: beyond it the label partition pauses until its events
/// catch up. `position` (for the changelog capture and the group commit, `<group_id>.labels`)
/// is the first label not handed over: a label queued but not learnt is read again after a
/// restart. Owned by the worker's one thread.
final class LabelReader {
    let log: Logger
    let topic: String
    let consumer: KafkaConsumer
    let parser: EventParser
    private var event: ParsedEvent
    let labels: LabelsSection
    private let commitIntervalMs: Int64
    private var lastCommit: Int64 = 0
    /// Per held label partition: the next offset to read.
    private var next: [Int32: Int64] = [:]
    /// Per held label partition: labels read and not handed over yet, in the topic's order.
    /// (An array and its consumed head: no Deque for one FIFO, swift-collections is not a
    /// dependency of this package.)
    private var queues: [Int32: (labels: [Label], head: Int)] = [:]
    /// Label partitions that never answered within `answerTimeoutMs`: their input goes on.
    private var gaveUp: Set<Int32> = []
    /// Label partitions paused because their queue is full.
    private var paused: Set<Int32> = []
    /// A queue this long pauses its label partition; half of it resumes it.
    static let queueLimit = 10_000
    /// Label partitions read to their end (no label waiting), until a new label comes.
    private var atEnd: Set<Int32> = []
    /// Label partitions that answered since they started (a label or their end), and when
    /// each started (a partition that never answers must not hold its input for ever).
    private var answered: Set<Int32> = []
    private var startedAt: [Int32: Int64] = [:]
    /// How long an input partition waits for its label partition's first answer.
    static let answerTimeoutMs: Int64 = 10_000

    /// Whether label partition `p` has answered since it started, or gave up waiting (said
    /// once: the labels topic missing, its broker down): until then its input waits.
    func hasAnswered(_ p: Int32) -> Bool {
        if answered.contains(p) { return true }
        guard let t = startedAt[p], Clock.nowMs() - t >= Self.answerTimeoutMs else { return false }
        answered.insert(p)
        gaveUp.insert(p)
        log.warning("labels: \(topic)[\(p)] has not answered in \(Self.answerTimeoutMs / 1000) s (topic missing? broker down?); its input is scored without waiting for labels, which are joined whenever they come")
        return true
    }

    /// The next label offset of `p` to hand over (-1: none read yet, started at the commit).
    func position(_ p: Int32) -> Int64 {
        if let q = queues[p], q.head < q.labels.count { return q.labels[q.head].offset }
        return next[p] ?? -1
    }

    /// Whether every label of partition `p` written so far has been read.
    func caughtUp(_ p: Int32) -> Bool { atEnd.contains(p) }

    /// Whether partition `p` has labels read and not handed over.
    func queuedCount(_ p: Int32) -> Int { queues[p].map { $0.labels.count - $0.head } ?? 0 }
    func hasQueued(_ p: Int32) -> Bool { queuedCount(p) > 0 }

    /// Once every label of partition `p` up to an event's time is handed over (`take`):
    /// whether that event may be scored, i.e. the next label is known to be later (one is
    /// queued), or none is left to read (the end of the partition, or it never answered).
    func readyFor(_ p: Int32) -> Bool { hasQueued(p) || atEnd.contains(p) || gaveUp.contains(p) }

    /// Hands over the queued labels of partition `p` up to event time `t`, in order.
    func take(_ p: Int32, upTo t: Double, _ body: (Label) -> Void) {
        guard var q = queues[p], q.head < q.labels.count, q.labels[q.head].time <= t else { return }
        queues[p] = nil  // not shared while it is changed
        while q.head < q.labels.count, q.labels[q.head].time <= t {
            body(q.labels[q.head])
            q.head += 1
        }
        if q.head == q.labels.count {
            q.labels.removeAll(keepingCapacity: true)
            q.head = 0
        } else if q.head > 1024 && q.head * 2 > q.labels.count {
            q.labels.removeFirst(q.head)
            q.head = 0
        }
        let left = q.labels.count - q.head
        queues[p] = q
        if left <= Self.queueLimit / 2 && paused.remove(p) != nil { consumer.resume([TopicPartition(topic, p)]) }
    }

    /// A label as read: its partition, offset, id, value and event time (seconds).
    struct Label {
        var partition: Int32
        var offset: Int64
        var id: String
        var value: Double
        var time: Double
    }

    init(settings: WorkerSettings, consumerConfig: KafkaClientConfig, log: Logger) throws(KafkaError) {
        self.log = log
        labels = settings.labels
        // Re-keyed into a topic of our own with `features.repartition` (`Repartitioner`).
        topic = settings.features.repartition ? settings.kafka.labelsRepartitionTopic : settings.labels.topic
        var cc = consumerConfig
        cc["group.id"] = "\(settings.kafka.groupId).labels"
        // The end of a label partition tells that no label is waiting to be read: the input
        // may then run ahead of the labels (see `caughtUp`).
        cc["enable.partition.eof"] = "true"
        consumer = try KafkaConsumer(config: cc, batchSize: settings.worker.batchSize)
        let m = settings.model
        parser = EventParser(keyPath: labels.id, timestampPath: labels.timestamp, labelPath: labels.label, numericPaths: [],
                             labelClasses: m.type == .softmaxRegression ? m.classes : [], timestampUnit: labels.timestampUnit)
        event = parser.makeEvent()
        commitIntervalMs = Int64(settings.worker.commitIntervalMs)
    }

    var wakeupFD: Int32 { consumer.wakeupFD() }
    func clearWakeup() { consumer.clearWakeup() }

    /// Starts reading label partition `p` at `from` (the offset its partition's restored
    /// state covers), or at the group's commit.
    func start(_ p: Int32, from: Int64? = nil) {
        guard next[p] == nil else { return }
        next[p] = from ?? -1
        queues[p] = ([], 0)
        startedAt[p] = Clock.nowMs()
        do { try consumer.assign([TopicPartition(topic, p)], start: from.map(StartOffset.offset) ?? .committed) } catch {
            log.error("labels: cannot read \(topic)[\(p)]: \(error)")
        }
    }

    func stop(_ p: Int32) {
        atEnd.remove(p)
        answered.remove(p)
        gaveUp.remove(p)
        startedAt[p] = nil
        let n = position(p)
        queues[p] = nil
        if paused.remove(p) != nil { consumer.resume([TopicPartition(topic, p)]) }
        guard next.removeValue(forKey: p) != nil else { return }
        try? consumer.unassign([TopicPartition(topic, p)])
        if n >= 0 { try? consumer.commit([TopicPartition(topic, p): n], async: true) }
    }

    /// Reads a few batches into the queues, each bad record to `deadLetter` (reason, error).
    /// Commits on the interval. Returns whether records may be waiting.
    func turn(now: Int64, trouble: (String, KafkaError) -> Void,
              deadLetter: (borrowing ConsumedRecord, String, String) -> Void) -> Bool {
        var more = false
        if !next.isEmpty {
            for _ in 0..<4 {
                let n = consumer.poll(timeoutMs: 0, onError: { trouble("labels consumer", $0) },
                                      onEndOfPartition: { p, _ in if next[p] != nil { atEnd.insert(p); answered.insert(p) } }) { rec in
                    let p = rec.partition
                    guard next[p] != nil else { return }
                    atEnd.remove(p)
                    answered.insert(p)
                    next[p] = rec.offset + 1
                    do {
                        try parser.parse(rec.value, into: &event)
                    } catch {
                        let e = error as? EventError ?? .notJSON("\(error)")
                        deadLetter(rec, e.reason, "label record: \(e)")
                        return
                    }
                    guard let y = event.label else {
                        let e = EventError.missingField(labels.label)
                        deadLetter(rec, e.reason, "label record: \(e)")
                        return
                    }
                    let time: Double
                    if labels.timestamp.isEmpty {
                        time = Double(rec.timestampMs) / 1000
                    } else if event.timestampStatus == .present, let t = event.timestamp {
                        time = t
                    } else {
                        let e = parser.error(event.timestampStatus, labels.timestamp, expected: parser.timestampExpectation)
                        deadLetter(rec, e.reason, "label record: \(e)")
                        return
                    }
                    queues[p, default: ([], 0)].labels.append(Label(partition: p, offset: rec.offset, id: event.key, value: y, time: time))
                    if queuedCount(p) >= Self.queueLimit && paused.insert(p).inserted {
                        consumer.pause([TopicPartition(topic, p)])
                    }
                }
                if n == 0 { break }
                more = true
            }
        }
        if now - lastCommit >= commitIntervalMs {
            lastCommit = now
            var offsets: [TopicPartition: Int64] = [:]
            for p in next.keys where position(p) >= 0 { offsets[TopicPartition(topic, p)] = position(p) }
            if !offsets.isEmpty {
                do { try consumer.commit(offsets, async: true) } catch { trouble("labels commit", error) }
            }
        }
        return more
    }

    func close() {
        var offsets: [TopicPartition: Int64] = [:]
        for p in next.keys where position(p) >= 0 { offsets[TopicPartition(topic, p)] = position(p) }
        if !offsets.isEmpty { try? consumer.commit(offsets, async: false) }
    }
}
