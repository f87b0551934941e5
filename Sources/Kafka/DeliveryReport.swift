import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// What became of one produced record. `tag` is the caller's number for it.
public struct DeliveryReport: Sendable, Equatable {
    public var tag: Int
    public var partition: Int32
    public var offset: Int64
    public var error: KafkaError?
}
