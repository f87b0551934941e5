import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// A consumed record, valid only inside the closure that receives it: key and value point
/// into librdkafka's buffer (no copy on the hot path). Copy what must outlive the call.
public struct ConsumedRecord {
    private let message: UnsafePointer<rd_kafka_message_t>
    public let partition: Int32
    public let offset: Int64
    public let timestampMs: Int64
    public let key: UnsafeRawBufferPointer
    public let value: UnsafeRawBufferPointer

    init(_ m: UnsafePointer<rd_kafka_message_t>) {
        message = m
        let msg = m.pointee
        partition = msg.partition
        offset = msg.offset
        var tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        timestampMs = rd_kafka_message_timestamp(m, &tstype)
        key = UnsafeRawBufferPointer(start: msg.key, count: msg.key_len)
        value = UnsafeRawBufferPointer(start: msg.payload, count: msg.len)
    }

    /// The record's headers (parsed on demand: the hot path never asks).
    public var headers: [(String, [UInt8])] {
        var hdrs: OpaquePointer? = nil
        guard rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return [] }
        var out: [(String, [UInt8])] = []
        var i = 0
        while true {
            var name: UnsafePointer<CChar>? = nil
            var value: UnsafeRawPointer? = nil
            var size = 0
            guard rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let name else { break }
            out.append((String(cString: name), value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []))
            i += 1
        }
        return out
    }
}
