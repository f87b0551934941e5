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
