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
