#if canImport(Glibc)
import Glibc
#endif

/// Running statistics of one field: Welford's algorithm, as River's `stats.Mean` /
/// `stats.Var` compute them (so the values match River to rounding), plus the order-based
/// stats (EWMA, last value, time since the previous event) and a distinct-count sketch.
public struct RunningStats: Sendable, Equatable {
    public var count: Double = 0
    public var mean: Double = 0
    public var m2: Double = 0
    public var sum: Double = 0
    public var min: Double = .infinity
    public var max: Double = -.infinity
    public var ewma: Double = 0
    public var last: Double = 0
    /// Event time of the newest event and the gap before it (since_last).
    public var lastTime: Double = -.infinity
    public var gap: Double = 0
    public var distinct: DistinctSketch? = nil

    public init(distinct: Bool = false) {
        if distinct { self.distinct = DistinctSketch() }
    }

    public mutating func add(_ x: Double, time: Double = 0, alpha: Double = 0.5) {
        count += 1
        let delta = x - mean
        mean += delta / count
        m2 += delta * (x - mean)
        sum += x
        if x < min { min = x }
        if x > max { max = x }
        // River's stats.EWMean starts at the first value.
        ewma = count == 1 ? x : alpha * x + (1 - alpha) * ewma
        last = x
        gap = lastTime == -.infinity ? 0 : Swift.max(0, time - lastTime)
        if time > lastTime { lastTime = time }
        distinct?.add(x.bitPattern == (-0.0).bitPattern ? 0 : x)
    }

    /// Chan et al.'s parallel merge (windows made of buckets). Order-based stats are not
    /// merged: the configuration refuses them on windowed aggregates.
    public mutating func merge(_ o: RunningStats) {
        guard o.count > 0 else { return }
        guard count > 0 else { self = o; return }
        let n = count + o.count
        let delta = o.mean - mean
        m2 += o.m2 + delta * delta * count * o.count / n
        mean += delta * o.count / n
        count = n
        sum += o.sum
        min = Swift.min(min, o.min)
        max = Swift.max(max, o.max)
        if let od = o.distinct { distinct?.merge(od) }
    }

    /// Sample variance (ddof = 1), River's `stats.Var()` default; 0 with fewer than 2 values.
    public var variance: Double { count > 1 ? m2 / (count - 1) : 0 }

    public func value(_ stat: FeatureSpec.Stat) -> Double {
        switch stat {
        case .count: count
        case .sum: sum
        case .mean: mean
        case .variance: variance
        case .min: count > 0 ? min : 0
        case .max: count > 0 ? max : 0
        case .ewma: ewma
        case .last: last
        case .sinceLast: gap
        case .distinct: distinct?.estimate ?? 0
        }
    }
}
