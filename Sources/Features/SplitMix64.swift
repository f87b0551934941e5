#if canImport(Glibc)
import Glibc
#endif

/// SplitMix64: a seeded generator giving the same stream on every machine (synthetic data,
/// tests). Each output is `mix` of the state before it advances.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        defer { state &+= 0x9E37_79B9_7F4A_7C15 }
        return mix(state)
    }
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}
