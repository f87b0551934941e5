import Foundation

/// Puts a model topic's records back together into checkpoints, in any order: a version is
/// complete when every chunk of one write of it (same version, count, length and hash) has
/// been seen. A torn write (the coordinator killed mid-checkpoint) stays incomplete and is
/// never returned; chunks an older version left under a reused key are told apart by their
/// header. Records of older coordinators (one JSON checkpoint per record) are read too.
public struct CheckpointAssembler: Sendable {
    private struct Write: Hashable { var version: Int; var count: Int; var length: Int; var hash: UInt64 }
    private var parts: [Write: [Int: ArraySlice<UInt8>]] = [:]
    private var legacy: [Int: ModelCheckpoint] = [:]
    /// Records that were neither a chunk nor a JSON checkpoint, with why (for a warning).
    public private(set) var unreadable: [String] = []

    public init() {}

    public mutating func add(_ value: [UInt8]) {
        if CheckpointChunk.isChunk(value) {
            do {
                let c = try CheckpointChunk(parsing: value)
                parts[Write(version: c.version, count: c.count, length: c.payloadLength, hash: c.payloadHash), default: [:]][c.index] = c.bytes
            } catch { unreadable.append(error.description) }
        } else if value.first == UInt8(ascii: "{"), let cp = try? JSONDecoder().decode(ModelCheckpoint.self, from: Data(value)) {
            legacy[cp.version] = cp
        } else if !value.isEmpty {
            unreadable.append("a \(value.count)-byte record that is not a checkpoint")
        }
    }

    /// Versions with every chunk seen (their content is checked only when taken).
    private var completeWrites: [Write] {
        parts.compactMap { w, p in p.count == w.count ? w : nil }
    }

    /// Every version that can be restored, oldest first.
    public var versions: [Int] { Set(completeWrites.map(\.version)).union(legacy.keys).sorted() }

    /// The newest complete checkpoint whose content checks out.
    public func newest() -> ModelCheckpoint? {
        for v in versions.reversed() { if let cp = checkpoint(version: v) { return cp } }
        return nil
    }

    public func checkpoint(version: Int) -> ModelCheckpoint? {
        for w in completeWrites where w.version == version {
            guard let p = parts[w] else { continue }
            var payload = [UInt8]()
            payload.reserveCapacity(w.length)
            for i in 0..<w.count { payload += p[i]! }
            guard payload.count == w.length, CheckpointChunk.hash(payload) == w.hash,
                  let cp = try? ModelCheckpoint(binary: payload), cp.version == version else { continue }
            return cp
        }
        return legacy[version]
    }
}
