/// How a worker's dense weight delta travels to the coordinator (issue 28). The worker
/// quantises, sends the bytes, and keeps what the rounding left out for its next delta (error
/// feedback, `SyncState.sent`), so nothing learnt is lost, only delayed by a round.
/// - `none`: float64, 8 bytes a coordinate.
/// - `float16`: IEEE half precision, 2 bytes (relative error ≤ 2⁻¹¹; values below 6e-8
///   round to 0 and wait in the residual; beyond 65,504 they overflow and the delta is refused
///   as not finite).
/// - `int8`: blocks of 256 coordinates sharing a float32 scale (the block's largest |value| /
///   127), 1 byte a coordinate + 4 a block: error ≤ half the block's scale.
/// Sparse deltas keep travelling as exact (index, float64) pairs when those are smaller.
public enum DeltaCompression: String, Sendable, Codable, CaseIterable {
    case none, float16, int8

    public static let block = 256

    /// Bytes for `count` coordinates.
    public func byteCount(_ count: Int) -> Int {
        switch self {
        case .none: count * 8
        case .float16: count * 2
        case .int8: count + 4 * ((count + Self.block - 1) / Self.block)
        }
    }

    /// `v` encoded, when that is smaller than its non-zero coordinates as exact (index,
    /// float64) pairs (which the wire sends otherwise); nil with `none`.
    public func encodeIfSmaller(_ v: [Double]) -> (bytes: [UInt8], decoded: [Double])? {
        guard self != .none else { return nil }
        var nonZero = 0
        for x in v where x != 0 { nonZero += 1 }
        return byteCount(v.count) < nonZero * 12 ? encode(v) : nil
    }

    /// The bytes of `v`, and the values the receiver will decode from them (what is merged).
    public func encode(_ v: [Double]) -> (bytes: [UInt8], decoded: [Double]) {
        var bytes = [UInt8](repeating: 0, count: byteCount(v.count))
        var decoded = [Double](repeating: 0, count: v.count)
        switch self {
        case .none:
            return (v.withUnsafeBytes { Array($0) }, v)
        case .float16:
            bytes.withUnsafeMutableBytes { out in
                for i in v.indices {
                    let h = Float16(v[i])
                    out.storeBytes(of: h.bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    decoded[i] = Double(h)
                }
            }
        case .int8:
            bytes.withUnsafeMutableBytes { out in
                var at = 0
                for start in stride(from: 0, to: v.count, by: Self.block) {
                    let end = min(v.count, start + Self.block)
                    var largest = 0.0
                    var finite = true
                    for i in start..<end {
                        if !v[i].isFinite { finite = false }
                        largest = max(largest, abs(v[i]))
                    }
                    // A non-finite value makes the block's scale NaN: the coordinator then
                    // refuses the delta as it would the float64 one.
                    let scale = finite ? Float(largest / 127) : .nan
                    out.storeBytes(of: scale.bitPattern.littleEndian, toByteOffset: at, as: UInt32.self)
                    at += 4
                    for i in start..<end {
                        var q: Int8 = 0
                        if finite && scale > 0 { q = Int8(max(-127, min(127, (v[i] / Double(scale)).rounded()))) }
                        out.storeBytes(of: q, toByteOffset: at, as: Int8.self)
                        decoded[i] = Double(q) * Double(scale)
                        at += 1
                    }
                }
            }
        }
        return (bytes, decoded)
    }

    /// `count` values from `bytes`, or nil when the length does not match.
    public func decode(_ bytes: [UInt8], count: Int) -> [Double]? {
        guard count >= 0, bytes.count == byteCount(count) else { return nil }
        var out = [Double](repeating: 0, count: count)
        bytes.withUnsafeBytes { b in
            switch self {
            case .none:
                for i in 0..<count { out[i] = Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
            case .float16:
                for i in 0..<count { out[i] = Double(Float16(bitPattern: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .int8:
                var at = 0
                for start in stride(from: 0, to: count, by: Self.block) {
                    let scale = Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                    at += 4
                    for i in start..<min(count, start + Self.block) {
                        out[i] = Double(b.load(fromByteOffset: at, as: Int8.self)) * scale
                        at += 1
                    }
                }
            }
        }
        return out
    }
}
