#if canImport(Glibc)
import Glibc
#endif

/// Online standard scaling, River's `preprocessing.StandardScaler` exactly: running mean and
/// population variance per feature (Welford); a feature with zero variance scales to 0.
///
/// Beyond River, one extreme value must not spoil the rest of a stream (`[model] clip_sigma`):
/// once a feature has `clipMinCount` values, a value more than `clipSigma` standard deviations
/// from its running mean is winsorised to that bound before it updates the moments, and a
/// scaled value is clamped to ±`clipSigma`. With 1e29 in a clean stream, River's moments (and
/// so every later scaled input) are ruined; here that one event sees ±clipSigma. A clean
/// stream never comes near 10σ, so at the default the scaler equals River's (parity tests).
public struct StandardScaler: Sendable, Equatable, Codable {
    public private(set) var counts: [Double]
    public private(set) var means: [Double]
    public private(set) var vars: [Double]
    /// 0: off (River's scaler exactly).
    public var clipSigma: Double
    public var clipMinCount = 30.0

    enum CodingKeys: String, CodingKey { case counts, means, vars, clipSigma, clipMinCount }

    public init(width: Int, clipSigma: Double = 0) {
        counts = .init(repeating: 0, count: width)
        means = .init(repeating: 0, count: width)
        vars = .init(repeating: 0, count: width)
        self.clipSigma = clipSigma
    }

    public init(from d: any Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        counts = try c.decode([Double].self, forKey: .counts)
        means = try c.decode([Double].self, forKey: .means)
        vars = try c.decode([Double].self, forKey: .vars)
        clipSigma = try c.decodeIfPresent(Double.self, forKey: .clipSigma) ?? 0
        clipMinCount = try c.decodeIfPresent(Double.self, forKey: .clipMinCount) ?? 30
    }

    public mutating func learn(_ x: [Double]) {
        for i in x.indices {
            var v = x[i]
            if clipSigma > 0 && counts[i] >= clipMinCount && vars[i] > 0 {
                let bound = clipSigma * vars[i].squareRoot()
                v = Swift.min(Swift.max(v, means[i] - bound), means[i] + bound)
            }
            counts[i] += 1
            let old = means[i]
            means[i] += (v - old) / counts[i]
            vars[i] += ((v - old) * (v - means[i]) - vars[i]) / counts[i]
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
        if clipSigma > 0 {
            for i in x.indices where counts[i] >= clipMinCount { out[i] = Swift.min(Swift.max(out[i], -clipSigma), clipSigma) }
        }
    }
}
