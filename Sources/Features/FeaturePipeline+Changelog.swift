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
