/// Where a version's checkpoint goes in the model topic: its binary form split into records
/// of at most `maxRecordBytes`, keyed by one of `slots` snapshot slots (version mod slots).
/// Each key is reused every `slots` versions, so a compacted model topic holds at most
/// `slots` versions whatever their number, and the newest `slots` versions can be rolled
/// back to. Pure: the coordinator produces what this returns.
public struct ModelStore: Sendable, Equatable {
    /// A broker's default `max.message.bytes` is 1 MB; half of that leaves room for the
    /// record's framing and any producer or topic setting near the default.
    public static let defaultMaxRecordBytes = 512 << 10

    public var slots: Int
    public var maxRecordBytes: Int

    public init(slots: Int, maxRecordBytes: Int = ModelStore.defaultMaxRecordBytes) {
        self.slots = max(1, slots)
        self.maxRecordBytes = max(CheckpointChunk.headerBytes + 1, maxRecordBytes)
    }

    public struct Record: Sendable, Equatable {
        public var key: [UInt8]
        public var value: [UInt8]
        public var index: Int
    }

    public func slot(of version: Int) -> Int { ((version % slots) + slots) % slots }

    public static func key(slot: Int, chunk: Int) -> [UInt8] { Array("slot-\(slot)/\(chunk)".utf8) }

    /// The records of one checkpoint, in order.
    public func records(_ cp: ModelCheckpoint) -> [Record] {
        let payload = cp.binary()
        let hash = CheckpointChunk.hash(payload)
        let room = maxRecordBytes - CheckpointChunk.headerBytes
        let count = max(1, (payload.count + room - 1) / room)
        let s = slot(of: cp.version)
        return (0..<count).map { i in
            let slice = payload[min(payload.count, i * room)..<min(payload.count, (i + 1) * room)]
            let chunk = CheckpointChunk(version: cp.version, index: i, count: count, payloadLength: payload.count,
                                        payloadHash: hash, bytes: slice)
            return Record(key: Self.key(slot: s, chunk: i), value: chunk.encoded(), index: i)
        }
    }
}
