/// One model-topic record: a slice of one version's binary checkpoint. A version is split so
/// every record fits a broker's default `max.message.bytes` (1 MB); the header names the
/// whole it belongs to, so a reader can tell a complete version from a torn one (the
/// coordinator killed mid-write) and from chunks an older version left under the same key.
///
/// Layout, little-endian: "TRBC", format (1), version (u64), index (u32), count (u32),
/// payload length (u64), payload FNV-1a 64 hash (u64), then the slice.
public struct CheckpointChunk: Sendable, Equatable {
    public static let magic: [UInt8] = Array("TRBC".utf8)
    public static let format: UInt8 = 1
    public static let headerBytes = 37

    public var version: Int
    public var index: Int
    public var count: Int
    public var payloadLength: Int
    public var payloadHash: UInt64
    public var bytes: ArraySlice<UInt8>

    public init(version: Int, index: Int, count: Int, payloadLength: Int, payloadHash: UInt64, bytes: ArraySlice<UInt8>) {
        self.version = version
        self.index = index
        self.count = count
        self.payloadLength = payloadLength
        self.payloadHash = payloadHash
        self.bytes = bytes
    }

    /// Whether a record value is a chunk at all (older coordinators wrote JSON records).
    public static func isChunk(_ value: [UInt8]) -> Bool { value.count >= headerBytes && value.prefix(4).elementsEqual(magic) }

    public init(parsing value: [UInt8]) throws(CheckpointError) {
        guard Self.isChunk(value) else { throw CheckpointError("not a checkpoint chunk (\(value.count) bytes, no TRBC header)") }
        guard value[4] == Self.format else { throw CheckpointError("checkpoint chunk format \(value[4]) (this build reads \(Self.format))") }
        func u64(_ at: Int) -> UInt64 { value.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) } }
        func u32(_ at: Int) -> UInt32 { value.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) } }
        let v = u64(5), length = u64(21)
        guard v <= UInt64(Int.max), length <= 1 << 40 else { throw CheckpointError("checkpoint chunk header out of range") }
        version = Int(v)
        index = Int(u32(13))
        count = Int(u32(17))
        payloadLength = Int(length)
        payloadHash = u64(29)
        guard count > 0, index < count else { throw CheckpointError("checkpoint chunk \(index) of \(count)") }
        bytes = value[Self.headerBytes...]
    }

    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.headerBytes + bytes.count)
        out += Self.magic
        out.append(Self.format)
        withUnsafeBytes(of: UInt64(version).littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt32(index).littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt32(count).littleEndian) { out += $0 }
        withUnsafeBytes(of: UInt64(payloadLength).littleEndian) { out += $0 }
        withUnsafeBytes(of: payloadHash.littleEndian) { out += $0 }
        out += bytes
        return out
    }

    /// FNV-1a, 64 bits: enough to tell two writes of one version apart and to catch a
    /// mixed-up reassembly; not a defence against a hostile writer (the topic's ACLs are).
    public static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        bytes.withUnsafeBufferPointer { p in
            // A while loop: an iterator costs generic calls per byte in debug builds.
            var i = 0
            while i < p.count { h = (h ^ UInt64(p[i])) &* 0x100_0000_01b3; i += 1 }
        }
        return h
    }
}
