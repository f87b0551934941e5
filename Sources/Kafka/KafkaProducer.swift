import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// A librdkafka producer. Delivery reports arrive on librdkafka's event queue (not a C
/// callback), so no Swift context crosses into C: `poll` turns them into values.
/// Owned by one thread; not Sendable on purpose.
public final class KafkaProducer {
    private let rk: OpaquePointer
    private let queue: OpaquePointer
    /// Records handed to librdkafka whose delivery report has not been read yet (0 without
    /// delivery reports).
    public private(set) var inFlight = 0

    /// Whether each record's delivery comes back from `poll` (and counts in `inFlight`).
    public let deliveryReports: Bool

    /// For a process that produces a record per input, once at start. librdkafka copies every
    /// produced record into the heap and frees it after delivery, so the heap's top grows and
    /// shrinks all the time: glibc gave the top back to the kernel (trim) and faulted it in
    /// again, ~5 % of a worker's record loop in `perf record` (sysmalloc → clear_page). This
    /// keeps up to `trimBytes` of freed heap (resident; the worker's in-flight records are
    /// bounded by `worker.max_in_flight`) and grows it `padBytes` at a time.
    public static func keepFreedHeap(trimBytes: Int = 256 << 20, padBytes: Int = 16 << 20) {
        tb_keep_freed_heap(Int32(trimBytes), Int32(padBytes))
    }

    /// - deliveryReports: false for a transactional producer. Its records count as one
    ///   transaction (the commit fails if any failed), and librdkafka's blocking calls
    ///   (commit, abort, flush) wait for reports to be served: with no one else serving them,
    ///   they would wait forever.
    public init(config: KafkaClientConfig, deliveryReports: Bool = true) throws(KafkaError) {
        self.deliveryReports = deliveryReports
        let conf = try config.makeConf()
        rd_kafka_conf_set_events(conf, Int32(deliveryReports ? RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR : RD_KAFKA_EVENT_ERROR))
        rk = try makeHandle(RD_KAFKA_PRODUCER, conf)
        queue = rd_kafka_queue_get_main(rk)
    }

    deinit {
        wakeup?.disable()
        for h in topics.values { rd_kafka_topic_destroy(h) }
        rd_kafka_queue_destroy(queue)
        rd_kafka_destroy(rk)
    }

    /// Topic handles by name, made on first use and kept: producing by name made librdkafka
    /// look the topic up per record (~70 ns of ~420 per produce call, measured against the
    /// mock). The last one used is checked first (one topic takes nearly every record).
    private var topics: [String: OpaquePointer] = [:]
    private var lastTopic: (name: String, handle: OpaquePointer)?

    private func handle(_ topic: String) -> OpaquePointer? {
        if let last = lastTopic, last.name == topic { return last.handle }
        if let h = topics[topic] { lastTopic = (topic, h); return h }
        guard let h = rd_kafka_topic_new(rk, topic, nil) else { return nil }
        topics[topic] = h
        lastTopic = (topic, h)
        return h
    }

    private var wakeup: QueueWakeup?

    /// Readable when delivery reports arrive after the queue was empty (see
    /// `KafkaConsumer.wakeupFD`).
    public func wakeupFD() -> Int32 {
        if wakeup == nil { wakeup = QueueWakeup(queue: queue) }
        return wakeup?.readFD ?? -1
    }

    public func clearWakeup() { wakeup?.clear() }

    /// Queues one record. Throws `isQueueFull` when librdkafka's local queue is full:
    /// call `poll` to serve delivery reports and retry (never drop).
    public func produce(topic: String, partition: Int32? = nil,
                        key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                        headers: [(String, String)] = [], timestampMs: Int64 = 0,
                        tag: Int) throws(KafkaError) {
        var hdrs: OpaquePointer? = nil
        if !headers.isEmpty {
            hdrs = rd_kafka_headers_new(headers.count)
            for (name, v) in headers {
                var value = v
                value.withUTF8 { buf in
                    _ = rd_kafka_header_add(hdrs, name, -1, buf.baseAddress, buf.count)
                }
            }
        }
        // Without a handle (librdkafka refused the name) by name: its error names the cause.
        let err = tb_produce(rk, handle(topic), topic, partition ?? tb_partition_ua(),
                             key.baseAddress, key.count, value.baseAddress, value.count,
                             hdrs, timestampMs, UnsafeMutableRawPointer(bitPattern: tag &+ 1))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            // On failure ownership of the headers stays with us.
            if let hdrs { rd_kafka_headers_destroy(hdrs) }
            throw KafkaError(err, context: "produce to \(topic)")
        }
        if deliveryReports { inFlight += 1 }
    }

    /// Convenience for byte arrays / strings.
    public func produce(topic: String, partition: Int32? = nil, key: [UInt8], value: [UInt8],
                        headers: [(String, String)] = [], tag: Int) throws(KafkaError) {
        // withUnsafeBytes is not typed-throws: carry the error out as a Result.
        let result: Result<Void, KafkaError> = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                Result { () throws(KafkaError) in
                    try produce(topic: topic, partition: partition, key: k, value: v,
                                headers: headers, tag: tag)
                }
            }
        }
        try result.get()
    }

    /// Serves delivery reports, waiting at most `timeoutMs` for the first one.
    /// Client-level errors (broker down, ...) are returned through `onError` and are
    /// informational: librdkafka retries by itself, and a record that finally fails comes
    /// back as a DeliveryReport with an error.
    @discardableResult
    public func poll(timeoutMs: Int32, onError: (KafkaError) -> Void = { _ in },
                     _ body: (DeliveryReport) -> Void) -> Int {
        var served = 0
        var timeout = timeoutMs
        while let ev = rd_kafka_queue_poll(queue, timeout) {
            timeout = 0
            defer { rd_kafka_event_destroy(ev) }
            switch rd_kafka_event_type(ev) {
            case RD_KAFKA_EVENT_DR:
                var msgs = [UnsafePointer<rd_kafka_message_t>?](repeating: nil, count: 512)
                while true {
                    let n = rd_kafka_event_message_array(ev, &msgs, msgs.count)
                    if n == 0 { break }
                    for i in 0..<n {
                        guard let m = msgs[i]?.pointee else { continue }
                        let tag = Int(bitPattern: m._private) &- 1
                        let error: KafkaError? = m.err == RD_KAFKA_RESP_ERR_NO_ERROR
                            ? nil : KafkaError(m.err, context: "delivery")
                        body(DeliveryReport(tag: tag, partition: m.partition, offset: m.offset, error: error))
                        inFlight -= 1
                        served += 1
                    }
                }
            case RD_KAFKA_EVENT_ERROR:
                onError(KafkaError(rd_kafka_event_error(ev),
                                   context: String(cString: rd_kafka_event_error_string(ev))))
            default:
                break
            }
        }
        return served
    }

    /// Serves delivery reports until none are in flight or the time is up.
    /// Returns the number still in flight (0 = everything delivered or failed and reported).
    public func drain(timeoutMs: Int, _ body: (DeliveryReport) -> Void) -> Int {
        let deadline = monotonicMs() + Int64(timeoutMs)
        while inFlight > 0 && monotonicMs() < deadline {
            poll(timeoutMs: 50, body)
        }
        return inFlight
    }

    // MARK: transactions (a producer made with `transactional.id`)

    /// Registers the transactional.id with the broker's transaction coordinator. This fences
    /// every older producer with the same id (their next transactional call fails as fenced)
    /// and aborts whatever transaction they left open, so it must come before reading the
    /// offsets and state this producer continues from.
    public func initTransactions(timeoutMs: Int32 = 30_000) throws(KafkaError) {
        try check(rd_kafka_init_transactions(rk, timeoutMs), "init transactions")
    }

    public func beginTransaction() throws(KafkaError) {
        try check(rd_kafka_begin_transaction(rk), "begin transaction")
    }

    /// Puts input offsets ("next to read") into the current transaction: they are committed
    /// to `consumer`'s group if and only if the transaction commits.
    public func sendOffsetsToTransaction(_ offsets: [TopicPartition: Int64], consumer: KafkaConsumer,
                                         timeoutMs: Int32 = 30_000) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        guard let md = rd_kafka_consumer_group_metadata(consumer.rk) else {
            throw KafkaError(.illegalState, message: "send offsets to transaction: the consumer has no group metadata")
        }
        defer { rd_kafka_consumer_group_metadata_destroy(md) }
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (tp, o) in offsets { rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!.pointee.offset = o }
        try check(rd_kafka_send_offsets_to_transaction(rk, list, md, timeoutMs), "send offsets to transaction")
    }

    /// Flushes every record of the transaction and commits it (with its offsets). Delivery
    /// reports of its records are then waiting in `poll`.
    public func commitTransaction(timeoutMs: Int32 = 30_000) throws(KafkaError) {
        try check(rd_kafka_commit_transaction(rk, timeoutMs), "commit transaction")
    }

    /// Aborts the current transaction: read_committed consumers never see its records.
    public func abortTransaction(timeoutMs: Int32 = 30_000) throws(KafkaError) {
        try check(rd_kafka_abort_transaction(rk, timeoutMs), "abort transaction")
    }

    /// The error that made this producer unusable (fenced, ...), if any: every later call
    /// fails, often only with a generic "erroneous state".
    public var fatalError: KafkaError? {
        var buf = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(rk, &buf, buf.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var e = KafkaError(err, context: cString(buf))
        e.fatal = true
        return e
    }

    private func check(_ err: OpaquePointer?, _ what: String) throws(KafkaError) {
        if let err { throw KafkaError(taking: err, context: what) }
    }

    /// Number of partitions of `topic` per the broker's metadata.
    public func partitionCount(topic: String, timeoutMs: Int32 = 5000) throws(KafkaError) -> Int {
        try metadataPartitionCount(rk: rk, topic: topic, timeoutMs: timeoutMs)
    }

    /// Every topic the cluster has, with its partition count. Asks for all topics, so
    /// unlike asking for one by name it never makes a broker auto-create one.
    public func topics(timeoutMs: Int32 = 5000) throws(KafkaError) -> [String: Int] {
        var md: UnsafePointer<rd_kafka_metadata>? = nil
        let err = rd_kafka_metadata(rk, 1, nil, &md, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else { throw KafkaError(err, context: "metadata") }
        defer { rd_kafka_metadata_destroy(md) }
        var out: [String: Int] = [:]
        for i in 0..<Int(md.pointee.topic_cnt) {
            let t = md.pointee.topics[i]
            if t.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = t.topic { out[String(cString: name)] = Int(t.partition_cnt) }
        }
        return out
    }

    /// What the cluster's metadata says: its broker count, and each topic's partition count
    /// and replication factor (the smallest over its partitions). Asks for all topics, as
    /// `topics` does.
    public func layout(timeoutMs: Int32 = 5000) throws(KafkaError) -> ClusterLayout {
        var md: UnsafePointer<rd_kafka_metadata>? = nil
        let err = rd_kafka_metadata(rk, 1, nil, &md, timeoutMs)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else { throw KafkaError(err, context: "metadata") }
        defer { rd_kafka_metadata_destroy(md) }
        var out = ClusterLayout(brokers: Int(md.pointee.broker_cnt))
        for i in 0..<Int(md.pointee.topic_cnt) {
            let t = md.pointee.topics[i]
            guard t.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = t.topic else { continue }
            var replicas = Int.max
            for j in 0..<Int(t.partition_cnt) { replicas = min(replicas, Int(t.partitions[j].replica_cnt)) }
            out.topics[String(cString: name)] = .init(partitions: Int(t.partition_cnt), replicas: t.partition_cnt > 0 ? replicas : 0)
        }
        return out
    }

    /// Creates a topic with the Admin API (for real brokers; the embedded broker creates its
    /// own). An existing topic is not an error.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1,
                            configs: [String: String] = [:], timeoutMs: Int32 = 10_000) throws(KafkaError) {
        try adminCreateTopic(rk: rk, name: name, partitions: partitions,
                             replicationFactor: replicationFactor, configs: configs, timeoutMs: timeoutMs)
    }
}

/// Monotonic milliseconds for this module's own deadlines (`Runtime.Clock` is the shared
/// one; this module sits below it).
func monotonicMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

func metadataPartitionCount(rk: OpaquePointer, topic: String, timeoutMs: Int32) throws(KafkaError) -> Int {
    guard let rkt = rd_kafka_topic_new(rk, topic, nil) else {
        throw KafkaError(.clientCreation, message: "cannot create topic handle for \(topic)")
    }
    defer { rd_kafka_topic_destroy(rkt) }
    var md: UnsafePointer<rd_kafka_metadata>? = nil
    let err = rd_kafka_metadata(rk, 0, rkt, &md, timeoutMs)
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
        throw KafkaError(err, context: "metadata for \(topic)")
    }
    defer { rd_kafka_metadata_destroy(md) }
    guard md.pointee.topic_cnt >= 1 else {
        throw KafkaError(.notFound, message: "topic \(topic) not in metadata")
    }
    let t = md.pointee.topics[0]
    if t.err != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(t.err, context: "topic \(topic)")
    }
    return Int(t.partition_cnt)
}

func adminCreateTopic(rk: OpaquePointer, name: String, partitions: Int, replicationFactor: Int,
                      configs: [String: String], timeoutMs: Int32) throws(KafkaError) {
    var errbuf = [CChar](repeating: 0, count: 256)
    guard let nt = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor),
                                         &errbuf, errbuf.count) else {
        throw KafkaError(.configuration, message: "topic \(name): \(cString(errbuf))")
    }
    defer { rd_kafka_NewTopic_destroy(nt) }
    for (k, v) in configs { _ = rd_kafka_NewTopic_set_config(nt, k, v) }
    let q = rd_kafka_queue_new(rk)!
    defer { rd_kafka_queue_destroy(q) }
    var topics: [OpaquePointer?] = [nt]
    rd_kafka_CreateTopics(rk, &topics, 1, nil, q)
    guard let ev = rd_kafka_queue_poll(q, timeoutMs) else {
        throw KafkaError(.timedOut, message: "create topic \(name): no answer within \(timeoutMs) ms")
    }
    defer { rd_kafka_event_destroy(ev) }
    if rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR {
        throw KafkaError(rd_kafka_event_error(ev), context: "create topic \(name)")
    }
    guard let res = rd_kafka_event_CreateTopics_result(ev) else { return }
    var cnt = 0
    guard let results = rd_kafka_CreateTopics_result_topics(res, &cnt), cnt > 0 else { return }
    let err = rd_kafka_topic_result_error(results[0])
    if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
        throw KafkaError(err, context: "create topic \(name)")
    }
}

extension KafkaProducer {
    /// A topic's configuration as the broker reports it (DescribeConfigs): every entry, set or
    /// default. A broker without the API (the embedded one) answers with an error.
    public func topicConfig(_ name: String, timeoutMs: Int32 = 5000) throws(KafkaError) -> [String: String] {
        guard let res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name) else {
            throw KafkaError(.configuration, message: "topic \(name): cannot describe")
        }
        defer { rd_kafka_ConfigResource_destroy(res) }
        let q = rd_kafka_queue_new(rk)!
        defer { rd_kafka_queue_destroy(q) }
        var resources: [OpaquePointer?] = [res]
        rd_kafka_DescribeConfigs(rk, &resources, 1, nil, q)
        guard let ev = rd_kafka_queue_poll(q, timeoutMs) else {
            throw KafkaError(.timedOut, message: "describe topic \(name): no answer within \(timeoutMs) ms")
        }
        defer { rd_kafka_event_destroy(ev) }
        if rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rd_kafka_event_error(ev), context: "describe topic \(name)")
        }
        guard let result = rd_kafka_event_DescribeConfigs_result(ev) else { return [:] }
        var n = 0
        guard let described = rd_kafka_DescribeConfigs_result_resources(result, &n), n > 0, let r = described[0] else { return [:] }
        let err = rd_kafka_ConfigResource_error(r)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "describe topic \(name)") }
        var m = 0
        var out: [String: String] = [:]
        guard let entries = rd_kafka_ConfigResource_configs(r, &m) else { return [:] }
        for i in 0..<m {
            guard let e = entries[i], let k = rd_kafka_ConfigEntry_name(e) else { continue }
            out[String(cString: k)] = rd_kafka_ConfigEntry_value(e).map { String(cString: $0) } ?? ""
        }
        return out
    }
}
