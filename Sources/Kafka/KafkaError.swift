import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// A Kafka failure, with a typed code and a human explanation (librdkafka's own error name
/// where it has one), as swift-kafka-client's `KafkaError.ErrorCode`.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum ErrorCode: Sendable, Equatable {
        /// librdkafka's `rd_kafka_resp_err_t` (negative: client-side, positive: broker).
        case librdkafka(Int32)
        /// A setting librdkafka refused, or one that is required and missing (the message
        /// names it).
        case configuration
        /// librdkafka could not make a handle or object.
        case clientCreation
        /// The cluster's metadata lacks what was asked for (a topic).
        case notFound
        /// No answer within the time given.
        case timedOut
        /// A call that needs state this client does not have (group metadata).
        case illegalState
    }

    public let errorCode: ErrorCode
    public let message: String
    /// librdkafka's code, when the failure is one of librdkafka's.
    public var code: Int32? { if case .librdkafka(let c) = errorCode { c } else { nil } }
    /// Transactions: the producer can do nothing more (fenced by a newer instance with the
    /// same transactional.id, or another unrecoverable state). Drop it; make a new one.
    public var fatal = false
    /// Transactions: abort the current transaction, then carry on.
    public var requiresAbort = false
    /// Transactions: the same call may be repeated.
    public var retriable = false

    public init(_ errorCode: ErrorCode, message: String) {
        self.errorCode = errorCode
        self.message = message
    }

    /// Takes over (and destroys) a librdkafka `rd_kafka_error_t`.
    init(taking err: OpaquePointer, context: String) {
        defer { rd_kafka_error_destroy(err) }
        errorCode = .librdkafka(rd_kafka_error_code(err).rawValue)
        message = "\(context): \(String(cString: rd_kafka_error_name(err))) (\(String(cString: rd_kafka_error_string(err))))"
        fatal = rd_kafka_error_is_fatal(err) != 0
        requiresAbort = rd_kafka_error_txn_requires_abort(err) != 0
        retriable = rd_kafka_error_is_retriable(err) != 0
    }

    init(_ err: rd_kafka_resp_err_t, context: String) {
        errorCode = .librdkafka(err.rawValue)
        let name = String(cString: rd_kafka_err2name(err))
        let text = String(cString: rd_kafka_err2str(err))
        self.message = "\(context): \(name) (\(text))"
    }

    public var description: String { message }

    /// The local produce queue is full: serve delivery reports, then retry.
    public var isQueueFull: Bool { code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue }
    /// Fatal for the handle (e.g. fenced transactional producer).
    public var isFatal: Bool { fatal || code == RD_KAFKA_RESP_ERR__FATAL.rawValue }
    /// This producer was fenced: another instance now owns its transactional.id.
    public var isFenced: Bool {
        code == RD_KAFKA_RESP_ERR__FENCED.rawValue || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED.rawValue
            || code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH.rawValue
    }
    static let partitionEOF = RD_KAFKA_RESP_ERR__PARTITION_EOF.rawValue
}

/// One `topic`/`partition` (and, where it matters, offset).
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var topic: String
    public var partition: Int32
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }
    public var description: String { "\(topic)[\(partition)]" }
    public static func < (a: Self, b: Self) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }
}

/// Special start offsets for `assign`.
public enum StartOffset: Sendable, Equatable {
    /// Resume from the group's committed offset (falls back to `auto.offset.reset`).
    case committed
    case beginning
    case end
    case offset(Int64)

    var raw: Int64 {
        switch self {
        case .committed: return tb_offset_stored()
        case .beginning: return tb_offset_beginning()
        case .end: return tb_offset_end()
        case .offset(let o): return o
        }
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buf: [CChar]) -> String {
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// A pipe that librdkafka writes to when a queue goes from empty to non-empty
/// (`rd_kafka_queue_io_event_enable`), so one `zmq_poll` can wait on Kafka and sockets
/// together. Only the transition is signalled: drain the queue before waiting again, and
/// `clear()` after waking. Owns both fds and unregisters itself before closing them.
final class QueueWakeup {
    let readFD: Int32
    private let writeFD: Int32
    private let queue: OpaquePointer

    init?(queue: OpaquePointer) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
        self.queue = queue
        rd_kafka_queue_io_event_enable(queue, writeFD, "1", 1)
    }

    /// Must run before the queue is destroyed.
    func disable() {
        rd_kafka_queue_io_event_enable(queue, -1, nil, 0)
        close(readFD)
        close(writeFD)
    }

    func clear() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(readFD, &buf, buf.count) > 0 {}
    }
}
