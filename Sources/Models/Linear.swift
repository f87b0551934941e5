#if canImport(Glibc)
import Glibc
#endif

/// Online standard scaling, River's `preprocessing.StandardScaler` exactly: running mean and
/// population variance per feature (Welford); a feature with zero variance scales to 0.
public struct StandardScaler: Sendable, Equatable, Codable {
    public private(set) var counts: [Double]
    public private(set) var means: [Double]
    public private(set) var vars: [Double]

    public init(width: Int) {
        counts = .init(repeating: 0, count: width)
        means = .init(repeating: 0, count: width)
        vars = .init(repeating: 0, count: width)
    }

    public mutating func learn(_ x: [Double]) {
        for i in x.indices {
            counts[i] += 1
            let old = means[i]
            means[i] += (x[i] - old) / counts[i]
            vars[i] += ((x[i] - old) * (x[i] - means[i]) - vars[i]) / counts[i]
        }
    }

    public func transform(_ x: [Double], into out: inout [Double]) {
        for i in x.indices {
            let v = vars[i]
            out[i] = v > 0 ? (x[i] - means[i]) / v.squareRoot() : 0
        }
    }
}

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

