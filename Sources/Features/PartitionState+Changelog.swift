extension PartitionState {
    /// The records that bring the changelog up to this state, covering input offsets below
    /// `nextOffset`. Keys idle beyond the TTL are dropped here (tombstones): they would be
    /// reset on their next event anyway, so dropping them changes no feature.
    /// `side`: a side stage's records, position and clocks, written in the same capture.
    public mutating func capture(_ p: FeaturePipeline, nextOffset: Int64, side: SideCapture? = nil) -> [Changelog.Record] {
        var out: [Changelog.Record] = []
        let ttl = p.spec.ttlSeconds
        if ttl > 0 {
            let cutoff = streamTime - ttl
            for (k, ks) in keys where ks.lastSeen < cutoff {
                keys[k] = nil
                if !ks.dirty { dirtyKeys.append(k) }
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
        if let side { for r in side.records(full) { add(r.key, r.value) } }
        add(Changelog.metaKey, Changelog.encode(.init(nextOffset: nextOffset, streamTime: streamTime,
                                                      labelCount: labelCount, labelSum: labelSum,
                                                      sideOffset: side?.offset ?? -1, sideEventTime: side?.eventTime ?? -.infinity,
                                                      sideTime: side?.sideTime ?? -.infinity)))
        for k in dirtyKeys { keys[k]?.dirty = false }
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
