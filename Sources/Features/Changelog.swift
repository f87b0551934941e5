/// The feature-state changelog: how a partition's state is written to a compacted Kafka
/// topic (one changelog partition per input partition) and rebuilt from it.
///
/// Record keys:
///   "k" + key                    one key's aggregates (value empty = the key expired)
///   "t" + u8 index + value       one target-encoding value's label stats
///   0x00 "begin"                 a full snapshot starts: everything before it is obsolete
///   0x00 "meta"                  a capture is complete; its value holds the input offset
///                                the state covers (all records below it) and stream time
///
/// A capture is a set of key records followed by one meta record. The first capture of a
/// partition, and every capture after the incremental bytes outgrow the last full snapshot
/// (at least 1 MB), is a full snapshot (begin, every key, meta). That keeps the live state
/// readable on a broker that does not compact (the embedded mock keeps ~5 MB per partition)
/// and bounds restore time on one that does. Restore applies complete captures only: records
/// after the last meta (a crash mid-capture) are ignored.
public enum Changelog {
    public static let beginKey: [UInt8] = [0] + Array("begin".utf8)
    public static let metaKey: [UInt8] = [0] + Array("meta".utf8)
    static let version: UInt8 = 1
    /// Incremental bytes after which the next capture is full (or the last full size, if larger).
    public static let minFullEvery = 1 << 20

    public struct Record: Sendable, Equatable {
        public var key: [UInt8]
        /// nil: tombstone.
        public var value: [UInt8]?
    }

    public struct Meta: Sendable, Equatable {
        /// The state covers input offsets below this.
        public var nextOffset: Int64
        public var streamTime: Double
        public var labelCount: Double
        public var labelSum: Double
    }

    static func encode(_ m: Meta) -> [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        w.i64(m.nextOffset)
        w.f64(m.streamTime)
        w.f64(m.labelCount)
        w.f64(m.labelSum)
        return w.bytes
    }

    static func decodeMeta(_ b: [UInt8]) throws(ChangelogError) -> Meta {
        var r = ByteReader(b)
        guard try r.u8() == version else { throw ChangelogError("unknown changelog version") }
        return Meta(nextOffset: try r.i64(), streamTime: try r.f64(), labelCount: try r.f64(), labelSum: try r.f64())
    }
}
