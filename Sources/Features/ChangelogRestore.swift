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
            state.side.offset = m.sideOffset
            state.side.eventTime = m.sideEventTime
            state.side.sideTime = m.sideTime
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
        } else if SideState.tags.contains(tag) {
            state.side.records[r.key] = r.value
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
