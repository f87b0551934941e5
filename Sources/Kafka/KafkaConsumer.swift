import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// A consumer whose partitions are chosen by the caller (`assign`), never by Kafka's group
/// protocol: Tributary's coordinator decides who owns what. `group.id` is only the place
/// offsets are committed to. Owned by one thread; not Sendable on purpose.
public final class KafkaConsumer {
    /// Consumer settings Tributary uses unless the config sets them, for this librdkafka.
    /// librdkafka 2.1 added `fetch.queue.backoff.ms` (default 1000): on Tansu a worker then
    /// waited for records half of its run (1.3 s of 2.5 s, 150 empty polls, 120k events/s),
    /// while its fetch queue was far below the thresholds the backoff is for; 10 ms gave
    /// 215k events/s, near the bare consume + produce rate (`tributary bench --broker tansu`,
    /// docs/BENCHMARKS.md). 0 was no faster and spent more CPU fetching. Older librdkafka
    /// (Debian's 2.0.2) has no such setting and refuses unknown ones.
    public static var defaults: [String: String] {
        rd_kafka_version() >= 0x0201_0000 ? ["fetch.queue.backoff.ms": "10"] : [:]
    }

    /// `config` with `defaults` added where it does not set them.
    public static func withDefaults(_ config: KafkaClientConfig) -> KafkaClientConfig {
        var c = config
        for (key, v) in defaults where c[key] == nil { c[key] = v }
        return c
    }

    /// Internal: the transactional producer reads its group metadata.
    let rk: OpaquePointer
    private let queue: OpaquePointer
    private var batch: [UnsafeMutablePointer<rd_kafka_message_t>?]

    public init(config: KafkaClientConfig, batchSize: Int = 1024) throws(KafkaError) {
        var cfg = config
        guard let group = cfg["group.id"], !group.isEmpty else {
            throw KafkaError(.configuration, message: "Kafka setting 'group.id' is required (offsets are committed there)")
        }
        _ = group
        // Offsets are committed explicitly, and only after the records' outputs are delivered.
        cfg["enable.auto.commit"] = "false"
        cfg["enable.auto.offset.store"] = "false"
        if cfg["auto.offset.reset"] == nil { cfg["auto.offset.reset"] = "earliest" }
        let conf = try cfg.makeConf()
        rk = try makeHandle(RD_KAFKA_CONSUMER, conf)
        rd_kafka_poll_set_consumer(rk)
        queue = rd_kafka_queue_get_consumer(rk)
        batch = .init(repeating: nil, count: max(1, batchSize))
    }

    deinit {
        wakeup?.disable()
        rd_kafka_queue_destroy(queue)
        rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
    }

    private var wakeup: QueueWakeup?

    /// A file descriptor that becomes readable when records arrive after the queue was
    /// empty, so one poll (zmq_poll) can wait on Kafka and sockets together. librdkafka
    /// signals only the empty -> non-empty transition: read until `poll` returns 0 before
    /// waiting again, and `clearWakeup()` after waking.
    public func wakeupFD() -> Int32 {
        if wakeup == nil { wakeup = QueueWakeup(queue: queue) }
        return wakeup?.readFD ?? -1
    }

    public func clearWakeup() { wakeup?.clear() }

    private func withList<T>(_ parts: [(TopicPartition, Int64)],
                             _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> T) -> T {
        let list = rd_kafka_topic_partition_list_new(Int32(parts.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (tp, off) in parts {
            let e = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!
            e.pointee.offset = off
        }
        return body(list)
    }

    /// Adds partitions to the current assignment, each starting at `start`.
    public func assign(_ partitions: [TopicPartition], start: StartOffset = .committed) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let err = withList(partitions.map { ($0, start.raw) }) { rd_kafka_incremental_assign(rk, $0) }
        if let err {
            defer { rd_kafka_error_destroy(err) }
            throw KafkaError(.librdkafka(rd_kafka_error_code(err).rawValue),
                             message: "assign \(partitions): \(String(cString: rd_kafka_error_string(err)))")
        }
    }

    /// Removes partitions from the current assignment (buffered records of them are dropped
    /// by librdkafka, which is what a revoke wants: the next owner resumes from the commit).
    public func unassign(_ partitions: [TopicPartition]) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let err = withList(partitions.map { ($0, 0) }) { rd_kafka_incremental_unassign(rk, $0) }
        if let err {
            defer { rd_kafka_error_destroy(err) }
            throw KafkaError(.librdkafka(rd_kafka_error_code(err).rawValue),
                             message: "unassign \(partitions): \(String(cString: rd_kafka_error_string(err)))")
        }
    }

    /// Joins the consumer group of `group.id` for `topics`: Kafka's group protocol assigns
    /// their partitions (served by `poll`; see `assignment`). Used only for the coordinators'
    /// election; workers' partitions are assigned by the coordinator.
    public func subscribe(_ topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for t in topics { rd_kafka_topic_partition_list_add(list, t, RD_KAFKA_PARTITION_UA) }
        let err = rd_kafka_subscribe(rk, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "subscribe \(topics)") }
    }

    /// The partitions assigned to this consumer now.
    public func assignment() -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let l = list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(l) }
        return (0..<Int(l.pointee.cnt)).map { i in
            let e = l.pointee.elems[i]
            return TopicPartition(String(cString: e.topic), e.partition)
        }
    }

    /// Stops fetching `partitions` until `resume`: librdkafka drops what it fetched ahead for
    /// them, and `resume` fetches again from the record after the last one polled.
    public func pause(_ partitions: [TopicPartition]) {
        guard !partitions.isEmpty else { return }
        _ = withList(partitions.map { ($0, 0) }) { rd_kafka_pause_partitions(rk, $0) }
    }

    /// Moves the next fetch of an assigned partition to `offset`, without waiting: what was
    /// fetched ahead of it is dropped by librdkafka. With `pause`, it rewinds a partition to
    /// a record that was polled but not taken.
    public func seek(_ tp: TopicPartition, to offset: Int64) throws(KafkaError) {
        let err = withList([(tp, offset)]) { rd_kafka_seek_partitions(rk, $0, 0) }
        if let err {
            defer { rd_kafka_error_destroy(err) }
            throw KafkaError(.librdkafka(rd_kafka_error_code(err).rawValue),
                             message: "seek \(tp) to \(offset): \(String(cString: rd_kafka_error_string(err)))")
        }
    }

    public func resume(_ partitions: [TopicPartition]) {
        guard !partitions.isEmpty else { return }
        _ = withList(partitions.map { ($0, 0) }) { rd_kafka_resume_partitions(rk, $0) }
    }

    /// Reads up to the batch size of records, waiting at most `timeoutMs` for the first.
    /// Consumer-level errors (not per-record data) go to `onError`; end-of-partition events
    /// (only with `enable.partition.eof = true`) to `onEndOfPartition` with the partition and
    /// the offset reached. Every message is destroyed exactly once, after `body` returns.
    @discardableResult
    public func poll(timeoutMs: Int32, onError: (KafkaError) -> Void = { _ in },
                     onEndOfPartition: (Int32, Int64) -> Void = { _, _ in },
                     _ body: (borrowing ConsumedRecord) -> Void) -> Int {
        let n = batch.withUnsafeMutableBufferPointer { buf in
            rd_kafka_consume_batch_queue(queue, Int32(timeoutMs), buf.baseAddress, buf.count)
        }
        if n <= 0 { return 0 }
        var count = 0
        for i in 0..<n {
            guard let m = batch[i] else { continue }
            defer { rd_kafka_message_destroy(m) }
            if m.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                if m.pointee.err.rawValue == KafkaError.partitionEOF {
                    onEndOfPartition(m.pointee.partition, m.pointee.offset)
                } else {
                    onError(KafkaError(m.pointee.err, context: "consume"))
                }
                continue
            }
            body(ConsumedRecord(UnsafePointer(m)))
            count += 1
        }
        return count
    }

    /// The earliest offset per partition whose timestamp is at or after `timestampMs`
    /// (the high watermark where none is). Used to start a replay at a time.
    public func offsets(at timestampMs: Int64, _ partitions: [TopicPartition], timeoutMs: Int32 = 10_000) throws(KafkaError) -> [TopicPartition: Int64] {
        var out: [TopicPartition: Int64] = [:]
        let err: rd_kafka_resp_err_t = withList(partitions.map { ($0, timestampMs) }) { list in
            let e = rd_kafka_offsets_for_times(rk, list, timeoutMs)
            guard e == RD_KAFKA_RESP_ERR_NO_ERROR else { return e }
            for i in 0..<Int(list.pointee.cnt) {
                let el = list.pointee.elems[i]
                out[TopicPartition(String(cString: el.topic), el.partition)] = el.offset
            }
            return e
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "offsets for time \(timestampMs)") }
        return out
    }

    /// Commits "next offset to read" per partition (synchronously unless `async`).
    public func commit(_ offsets: [TopicPartition: Int64], async: Bool = false) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let err = withList(offsets.map { ($0.key, $0.value) }) { rd_kafka_commit(rk, $0, async ? 1 : 0) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            throw KafkaError(err, context: "commit")
        }
    }

    /// Committed offsets of the group for these partitions (-1001 = none yet).
    public func committed(_ partitions: [TopicPartition], timeoutMs: Int32 = 5000) throws(KafkaError) -> [TopicPartition: Int64] {
        let list = rd_kafka_topic_partition_list_new(Int32(partitions.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for tp in partitions { _ = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition) }
        let err = rd_kafka_committed(rk, list, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "committed") }
        var out: [TopicPartition: Int64] = [:]
        for i in 0..<Int(list.pointee.cnt) {
            let e = list.pointee.elems[i]
            out[TopicPartition(String(cString: e.topic), e.partition)] = e.offset
        }
        return out
    }

    /// Low and high watermarks as last seen in fetch responses (no broker round trip).
    public func cachedWatermarks(_ tp: TopicPartition) -> (low: Int64, high: Int64)? {
        var lo: Int64 = -1, hi: Int64 = -1
        let err = rd_kafka_get_watermark_offsets(rk, tp.topic, tp.partition, &lo, &hi)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0 ? (lo, hi) : nil
    }

    /// Low and high watermarks asked from the broker.
    public func queryWatermarks(_ tp: TopicPartition, timeoutMs: Int32 = 5000) throws(KafkaError) -> (low: Int64, high: Int64) {
        var lo: Int64 = -1, hi: Int64 = -1
        let err = rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &lo, &hi, timeoutMs)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "watermarks \(tp)") }
        return (lo, hi)
    }

    public func partitionCount(topic: String, timeoutMs: Int32 = 5000) throws(KafkaError) -> Int {
        try metadataPartitionCount(rk: rk, topic: topic, timeoutMs: timeoutMs)
    }
}
