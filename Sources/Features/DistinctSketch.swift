#if canImport(Glibc)
import Glibc
#endif

/// Distinct-count estimate: exact up to 32 values, then a HyperLogLog with 256 registers
/// (standard error ~6.5 %). Hashes, not values, are kept: bounded memory per key.
public struct DistinctSketch: Sendable, Equatable {
    public private(set) var exact: [UInt64]? = []
    public private(set) var registers: [UInt8] = []
    static let p = 8
    static let m = 1 << p

    public init() {}

    public mutating func add(_ x: Double) { addHash(mix(x.bitPattern)) }

    mutating func addHash(_ h: UInt64) {
        // Taken out (leaving nil) so the array is uniquely referenced and appends in place;
        // bound with `var e = exact` it was shared, and every new value copied it.
        if var e = exact.take() {
            if e.contains(h) { exact = e; return }
            e.append(h)
            if e.count <= 32 { exact = e; return }
            registers = .init(repeating: 0, count: Self.m)
            for v in e { put(v) }
            return
        }
        put(h)
    }

    private mutating func put(_ h: UInt64) {
        let idx = Int(h >> UInt64(64 - Self.p))
        let rest = h << UInt64(Self.p)
        let rank = UInt8(Swift.min(rest.leadingZeroBitCount, 64 - Self.p) + 1)
        if rank > registers[idx] { registers[idx] = rank }
    }

    public mutating func merge(_ o: DistinctSketch) {
        if let oe = o.exact { for h in oe { addHash(h) }; return }
        if let e = exact {
            exact = nil
            registers = o.registers
            for h in e { put(h) }
            return
        }
        for i in 0..<Self.m where o.registers[i] > registers[i] { registers[i] = o.registers[i] }
    }

    public var estimate: Double {
        if let e = exact { return Double(e.count) }
        let m = Double(Self.m)
        var z = 0.0
        var zeros = 0
        for r in registers { z += 1 / Double(UInt64(1) << UInt64(r)); if r == 0 { zeros += 1 } }
        let e = 0.7213 / (1 + 1.079 / m) * m * m / z
        // Linear counting for the small range (Flajolet et al.).
        if e <= 2.5 * m && zeros > 0 { return m * log(m / Double(zeros)) }
        return e
    }

    init(exact: [UInt64]?, registers: [UInt8]) {
        self.exact = exact
        self.registers = registers
    }
}

/// SplitMix64's finaliser: a fixed, well-mixed hash (Swift's `Hasher` is seeded per process
/// and would differ between workers).
@inline(__always) func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
