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

    /// Per feature (n, Σx, Σx²), laid out [n…, Σx…, Σx²…]: additive across workers, unlike
    /// Welford's running mean and variance.
    public var moments: [Double] {
        let w = counts.count
        var out = [Double](repeating: 0, count: 3 * w)
        for i in 0..<w {
            out[i] = counts[i]
            out[w + i] = counts[i] * means[i]
            out[2 * w + i] = counts[i] * (vars[i] + means[i] * means[i])
        }
        return out
    }

    /// Takes merged moments (a cluster-wide scaler); Welford continues from them.
    public mutating func setMoments(_ m: [Double]) {
        let w = counts.count
        guard m.count == 3 * w else { return }
        for i in 0..<w where m[i].isFinite && m[w + i].isFinite && m[2 * w + i].isFinite {
            let n = Swift.max(0, m[i])
            counts[i] = n
            means[i] = n > 0 ? m[w + i] / n : 0
            vars[i] = n > 0 ? Swift.max(0, m[2 * w + i] / n - means[i] * means[i]) : 0
        }
    }

    public func transform(_ x: [Double], into out: inout [Double]) {
        for i in x.indices {
            let v = vars[i]
            out[i] = v > 0 ? (x[i] - means[i]) / v.squareRoot() : 0
        }
    }
}
