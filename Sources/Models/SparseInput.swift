#if canImport(Glibc)
import Glibc
#endif

/// Sparse model inputs: parallel index/value arrays (indices into the full weight vector).
public struct SparseInput: Sendable, Equatable {
    public var indices: [Int]
    public var values: [Double]
    public init(indices: [Int], values: [Double]) {
        self.indices = indices
        self.values = values
    }
    public static let empty = SparseInput(indices: [], values: [])
}

@inline(__always) public func sigmoid(_ z: Double) -> Double {
    // Clamped so exp never overflows (River clamps the same way).
    let c = Swift.max(-500, Swift.min(500, z))
    return 1 / (1 + exp(-c))
}
