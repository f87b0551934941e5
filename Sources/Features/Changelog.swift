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

public struct ChangelogError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

extension PartitionState {
    /// The records that bring the changelog up to this state, covering input offsets below
    /// `nextOffset`. Keys idle beyond the TTL are dropped here (tombstones): they would be
    /// reset on their next event anyway, so dropping them changes no feature.
    public mutating func capture(_ p: FeaturePipeline, nextOffset: Int64) -> [Changelog.Record] {
        var out: [Changelog.Record] = []
        let ttl = p.spec.ttlSeconds
        if ttl > 0 {
            let cutoff = streamTime - ttl
            for (k, ks) in keys where ks.lastSeen < cutoff {
                keys[k] = nil
                dirtyKeys.insert(k)
            }
            for i in targets.indices {
                for (v, st) in targets[i] where st.lastSeen < cutoff {
                    targets[i][v] = nil
                    dirtyTargets[i].insert(v)
                }
            }
        }
        let full = needsFull || bytesSinceFull > Swift.max(lastFullBytes, Changelog.minFullEvery)
        var bytes = 0
        func add(_ key: [UInt8], _ value: [UInt8]?) {
            bytes += key.count + (value?.count ?? 0) + 16
            out.append(.init(key: key, value: value))
        }
        if full {
            add(Changelog.beginKey, [Changelog.version])
            for (k, ks) in keys { add(Array("k".utf8) + Array(k.utf8), p.encode(ks)) }
            for i in targets.indices {
                for (v, st) in targets[i] { add([UInt8(ascii: "t"), UInt8(i)] + Array(v.utf8), encode(st)) }
            }
        } else {
            for k in dirtyKeys { add(Array("k".utf8) + Array(k.utf8), keys[k].map(p.encode)) }
            for i in dirtyTargets.indices {
                for v in dirtyTargets[i] { add([UInt8(ascii: "t"), UInt8(i)] + Array(v.utf8), targets[i][v].map(encode)) }
            }
        }
        add(Changelog.metaKey, Changelog.encode(.init(nextOffset: nextOffset, streamTime: streamTime,
                                                      labelCount: labelCount, labelSum: labelSum)))
        dirtyKeys.removeAll(keepingCapacity: true)
        for i in dirtyTargets.indices { dirtyTargets[i].removeAll(keepingCapacity: true) }
        if full {
            needsFull = false
            lastFullBytes = bytes
            bytesSinceFull = 0
        } else {
            bytesSinceFull += bytes
        }
        return out
    }

    /// Size of the state as last written in full (bytes).
    public var snapshotBytes: Int { lastFullBytes }

    /// After a failed write: the next capture rewrites everything.
    public mutating func requestFullSnapshot() { needsFull = true }

    /// Whether anything changed since the last capture.
    public var isDirty: Bool { !dirtyKeys.isEmpty || dirtyTargets.contains { !$0.isEmpty } || needsFull }

    func encode(_ st: TargetStat) -> [UInt8] {
        var w = ByteWriter()
        w.f64(st.count)
        w.f64(st.sum)
        w.f64(st.lastSeen)
        return w.bytes
    }
}

/// Rebuilds a partition's state from its changelog records, read in offset order.
public struct ChangelogRestore: Sendable {
    let pipeline: FeaturePipeline
    public private(set) var state: PartitionState
    public private(set) var meta: Changelog.Meta?
    /// Changes since the last meta; applied when the next meta arrives.
    var staged: [Changelog.Record] = []
    var stagedFull = false
    var inGeneration = false
    public private(set) var records = 0
    var bytesSinceBegin = 0

    public init(pipeline: FeaturePipeline) {
        self.pipeline = pipeline
        state = pipeline.makeState()
    }

    public mutating func apply(key: [UInt8], value: [UInt8]?) throws(ChangelogError) {
        records += 1
        bytesSinceBegin += key.count + (value?.count ?? 0) + 16
        if key == Changelog.beginKey {
            bytesSinceBegin = 0
            // A new full snapshot: whatever was staged belongs to an abandoned capture.
            staged.removeAll()
            stagedFull = true
            inGeneration = true
            return
        }
        // Records before the first begin belong to a generation whose start is gone.
        guard inGeneration else { return }
        if key == Changelog.metaKey {
            guard let value else { throw ChangelogError("meta record without a value") }
            let m = try Changelog.decodeMeta(value)
            if stagedFull { state = pipeline.makeState() }
            for r in staged { try put(r) }
            staged.removeAll()
            stagedFull = false
            state.streamTime = m.streamTime
            state.labelCount = m.labelCount
            state.labelSum = m.labelSum
            meta = m
            return
        }
        staged.append(.init(key: key, value: value))
    }

    private mutating func put(_ r: Changelog.Record) throws(ChangelogError) {
        guard let tag = r.key.first else { throw ChangelogError("empty changelog key") }
        if tag == UInt8(ascii: "k") {
            let k = String(decoding: r.key.dropFirst(), as: UTF8.self)
            state.keys[k] = try r.value.map { v throws(ChangelogError) in try pipeline.decodeKeyState(v) }
        } else if tag == UInt8(ascii: "t"), r.key.count >= 2 {
            let i = Int(r.key[1])
            guard i < state.targets.count else { throw ChangelogError("target encoding \(i) is not configured") }
            let v = String(decoding: r.key.dropFirst(2), as: UTF8.self)
            if let b = r.value {
                var rd = ByteReader(b)
                state.targets[i][v] = TargetStat(count: try rd.f64(), sum: try rd.f64(), lastSeen: try rd.f64())
            } else {
                state.targets[i][v] = nil
            }
        } else {
            throw ChangelogError("unknown changelog key tag \(tag)")
        }
    }

    /// The restored state, ready to continue; the next capture is a full snapshot so the
    /// new owner starts its own generation.
    public func finish() -> (state: PartitionState, nextOffset: Int64?) {
        var s = state
        // With a checkpoint, the new owner appends to the same generation; without one it
        // starts the first.
        s.needsFull = meta == nil
        s.bytesSinceFull = bytesSinceBegin
        return (s, meta?.nextOffset)
    }
}

// MARK: key state encoding (only the fields the configured stats read)

extension FeaturePipeline {
    func encode(_ ks: KeyState) -> [UInt8] {
        var w = ByteWriter()
        w.f64(ks.lastSeen)
        for (a, ws) in ks.windows.enumerated() {
            let agg = spec.aggregates[a]
            switch ws {
            case .global(let s): w.stats(s, agg)
            case .buckets(let bs):
                w.u32(UInt32(bs.count))
                for b in bs { w.i64(b.index); w.stats(b.stats, agg) }
            case .sliding(let ps):
                w.u32(UInt32(ps.count))
                for p in ps { w.f64(p.time); w.f64(p.value) }
            case .sessions(let ss):
                w.u32(UInt32(ss.count))
                for s in ss { w.f64(s.start); w.f64(s.end); w.stats(s.stats, agg) }
            }
        }
        return w.bytes
    }

    func decodeKeyState(_ b: [UInt8]) throws(ChangelogError) -> KeyState {
        var r = ByteReader(b)
        var ks = KeyState(lastSeen: try r.f64(), windows: [])
        for agg in spec.aggregates {
            switch agg.window.kind {
            case .none: ks.windows.append(.global(try r.stats(agg)))
            case .tumbling, .hopping:
                var bs: [WindowState.Bucket] = []
                for _ in 0..<(try r.u32()) { bs.append(.init(index: try r.i64(), stats: try r.stats(agg))) }
                ks.windows.append(.buckets(bs))
            case .sliding:
                var ps: [WindowState.Point] = []
                for _ in 0..<(try r.u32()) { ps.append(.init(time: try r.f64(), value: try r.f64())) }
                ks.windows.append(.sliding(ps))
            case .session:
                var ss: [WindowState.Session] = []
                for _ in 0..<(try r.u32()) { ss.append(.init(start: try r.f64(), end: try r.f64(), stats: try r.stats(agg))) }
                ks.windows.append(.sessions(ss))
            }
        }
        guard r.atEnd else { throw ChangelogError("key state has \(r.remaining) unexpected bytes (feature spec changed?)") }
        return ks
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f64(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }

    /// Count and mean always (they define the window); the rest only when a stat reads it.
    mutating func stats(_ s: RunningStats, _ agg: FeatureSpec.Aggregate) {
        f64(s.count)
        f64(s.mean)
        let st = agg.stats
        if st.contains(.variance) { f64(s.m2) }
        if st.contains(.sum) { f64(s.sum) }
        if st.contains(.min) { f64(s.min) }
        if st.contains(.max) { f64(s.max) }
        if st.contains(.ewma) { f64(s.ewma) }
        if st.contains(.last) { f64(s.last) }
        if st.contains(.sinceLast) || agg.window.kind != .none { f64(s.lastTime); f64(s.gap) }
        if let d = s.distinct {
            if let e = d.exact {
                u8(1)
                u32(UInt32(e.count))
                for h in e { i64(Int64(bitPattern: h)) }
            } else {
                u8(2)
                bytes.append(contentsOf: d.registers)
            }
        }
    }
}

struct ByteReader {
    let bytes: [UInt8]
    var i = 0
    init(_ b: [UInt8]) { bytes = b }
    var atEnd: Bool { i == bytes.count }
    var remaining: Int { bytes.count - i }

    mutating func take(_ n: Int) throws(ChangelogError) -> ArraySlice<UInt8> {
        guard i + n <= bytes.count else { throw ChangelogError("truncated changelog record") }
        defer { i += n }
        return bytes[i..<i + n]
    }
    mutating func u8() throws(ChangelogError) -> UInt8 { try take(1).first! }
    mutating func u32() throws(ChangelogError) -> UInt32 {
        var v: UInt32 = 0
        for (j, b) in try take(4).enumerated() { v |= UInt32(b) << (8 * UInt32(j)) }
        return v
    }
    mutating func u64() throws(ChangelogError) -> UInt64 {
        var v: UInt64 = 0
        for (j, b) in try take(8).enumerated() { v |= UInt64(b) << (8 * UInt64(j)) }
        return v
    }
    mutating func i64() throws(ChangelogError) -> Int64 { Int64(bitPattern: try u64()) }
    mutating func f64() throws(ChangelogError) -> Double { Double(bitPattern: try u64()) }

    mutating func stats(_ agg: FeatureSpec.Aggregate) throws(ChangelogError) -> RunningStats {
        let st = agg.stats
        var s = RunningStats(distinct: st.contains(.distinct))
        s.count = try f64()
        s.mean = try f64()
        // Unstored fields are only ever read through stats that are not configured; keep
        // them consistent anyway for a single value.
        s.sum = s.mean * s.count
        if st.contains(.variance) { s.m2 = try f64() }
        if st.contains(.sum) { s.sum = try f64() }
        if st.contains(.min) { s.min = try f64() }
        if st.contains(.max) { s.max = try f64() }
        if st.contains(.ewma) { s.ewma = try f64() }
        if st.contains(.last) { s.last = try f64() }
        if st.contains(.sinceLast) || agg.window.kind != .none { s.lastTime = try f64(); s.gap = try f64() }
        if st.contains(.distinct) {
            switch try u8() {
            case 1:
                var e: [UInt64] = []
                for _ in 0..<(try u32()) { e.append(try u64()) }
                s.distinct = DistinctSketch(exact: e, registers: [])
            case 2: s.distinct = DistinctSketch(exact: nil, registers: Array(try take(DistinctSketch.m)))
            default: throw ChangelogError("bad distinct sketch tag")
            }
        }
        return s
    }
}
