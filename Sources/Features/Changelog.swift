/// The feature-state changelog: how a partition's state is written to a compacted Kafka
/// topic (one changelog partition per input partition) and rebuilt from it.
///
/// Record keys:
///   "k" + key                    one key's aggregates (value empty = the key expired)
///   "t" + u8 index + value       one target-encoding value's label stats
///   "p" / "e" + id               a side stage's records (the delayed-label join: a prediction
///                                waiting for its label, a label waiting for its prediction)
///   0x00 "begin"                 a full snapshot starts: everything before it is obsolete
///   0x00 "meta"                  a capture is complete; its value holds the input offset
///                                the state covers (all records below it), stream time, and
///                                the side stage's input offset and clocks (format 2)
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
    /// 2 adds the side stage's offset and clocks to the meta record; 1 is still read.
    static let version: UInt8 = 2
    /// Incremental bytes after which the next capture is full (or the last full size, if larger).
    public static let minFullEvery = 1 << 20

    public struct Record: Sendable, Equatable {
        public var key: [UInt8]
        /// nil: tombstone.
        public var value: [UInt8]?
        public init(key: [UInt8], value: [UInt8]?) {
            self.key = key
            self.value = value
        }
    }

    public struct Meta: Sendable, Equatable {
        /// The state covers input offsets below this.
        public var nextOffset: Int64
        public var streamTime: Double
        public var labelCount: Double
        public var labelSum: Double
        public var sideOffset: Int64 = -1
        public var sideEventTime = -Double.infinity
        public var sideTime = -Double.infinity
    }

    static func encode(_ m: Meta) -> [UInt8] {
        var w = ByteWriter()
        w.u8(version)
        w.i64(m.nextOffset)
        w.f64(m.streamTime)
        w.f64(m.labelCount)
        w.f64(m.labelSum)
        w.i64(m.sideOffset)
        w.f64(m.sideEventTime)
        w.f64(m.sideTime)
        return w.bytes
    }

    static func decodeMeta(_ b: [UInt8]) throws(ChangelogError) -> Meta {
        var r = ByteReader(b)
        let v = try r.u8()
        guard v == 1 || v == version else { throw ChangelogError("unknown changelog version \(v)") }
        var m = Meta(nextOffset: try r.i64(), streamTime: try r.f64(), labelCount: try r.f64(), labelSum: try r.f64())
        if v >= 2 {
            m.sideOffset = try r.i64()
            m.sideEventTime = try r.f64()
            m.sideTime = try r.f64()
        }
        return m
    }
}
