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
