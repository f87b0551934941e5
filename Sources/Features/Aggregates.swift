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
        if var e = exact {
            if e.contains(h) { return }
            e.append(h)
            if e.count <= 32 { exact = e; return }
            exact = nil
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

/// The state of one aggregate for one key, per window kind. All times are event time.
public enum WindowState: Sendable, Equatable {
    /// Since the key was first seen.
    case global(RunningStats)
    /// Tumbling and hopping windows as buckets of `hop` seconds (tumbling: hop = size),
    /// ascending by bucket number; a window is the last size/hop buckets.
    case buckets([Bucket])
    /// Sliding: every (time, value) still inside some readable window, ascending by time.
    case sliding([Point])
    /// Sessions, ascending by start; each closes after `gap` seconds without events.
    case sessions([Session])

    public struct Bucket: Sendable, Equatable {
        public var index: Int64
        public var stats: RunningStats
    }
    public struct Point: Sendable, Equatable {
        public var time: Double
        public var value: Double
    }
    public struct Session: Sendable, Equatable {
        public var start: Double
        public var end: Double
        public var stats: RunningStats
    }

    static func initial(_ spec: FeatureSpec.Aggregate) -> WindowState {
        switch spec.window.kind {
        case .none: .global(RunningStats(distinct: spec.stats.contains(.distinct)))
        case .tumbling, .hopping: .buckets([])
        case .sliding: .sliding([])
        case .session: .sessions([])
        }
    }

    /// Adds `x` at event time `t` and returns the stats of the window the event falls in
    /// (River's `Agg` semantics: the event itself is included). `watermark` is the oldest
    /// event time still accepted; state only older windows could need is dropped.
    mutating func add(_ x: Double, at t: Double, spec: FeatureSpec.Aggregate, watermark: Double) -> RunningStats {
        let distinct = spec.stats.contains(.distinct)
        // Each case takes its payload out and puts a cheap placeholder in first, so the
        // payload's arrays are uniquely referenced and mutate in place (no copy per event).
        let payload = self
        self = .sliding([])
        switch payload {
        case .global(var s):
            s.add(x, time: t, alpha: spec.alpha)
            self = .global(s)
            return s
        case .buckets(var bs):
            let (hop, k) = Self.bucketing(spec)
            let b = bucketNumber(t / hop)
            // Buckets no window at or after the watermark reads.
            let oldest = bucketNumber(watermark / hop) - k + 1
            bs.removeAll { $0.index < oldest && $0.index != b }
            if let i = bs.firstIndex(where: { $0.index == b }) {
                bs[i].stats.add(x, time: t)
            } else {
                var s = RunningStats(distinct: distinct)
                s.add(x, time: t)
                let at = bs.firstIndex(where: { $0.index > b }) ?? bs.endIndex
                bs.insert(Bucket(index: b, stats: s), at: at)
            }
            self = .buckets(bs)
            return read(at: t, spec: spec)
        case .sliding(var ps):
            let size = spec.window.size
            ps.removeAll { $0.time <= watermark - size }
            let at = ps.lastIndex(where: { $0.time <= t }).map { $0 + 1 } ?? 0
            ps.insert(Point(time: t, value: x), at: at)
            self = .sliding(ps)
            return read(at: t, spec: spec)
        case .sessions(var ss):
            let gap = spec.window.gap
            ss.removeAll { $0.end + gap < watermark }
            // Every session this event touches merges into one (an out-of-order event can
            // bridge two); the event is added last, so one touched session updates exactly
            // as a running Welford sequence would.
            var merged = Session(start: t, end: t, stats: RunningStats(distinct: distinct))
            var touched = false
            ss.removeAll { s in
                guard t >= s.start - gap && t <= s.end + gap else { return false }
                if touched { merged.stats.merge(s.stats) } else { merged.stats = s.stats; touched = true }
                merged.start = Swift.min(merged.start, s.start)
                merged.end = Swift.max(merged.end, s.end)
                return true
            }
            merged.stats.add(x, time: t)
            let at = ss.firstIndex(where: { $0.start > merged.start }) ?? ss.endIndex
            ss.insert(merged, at: at)
            self = .sessions(ss)
            return merged.stats
        }
    }

    /// Bucket width and buckets per window of a tumbling (one bucket) or hopping window.
    static func bucketing(_ spec: FeatureSpec.Aggregate) -> (hop: Double, perWindow: Int64) {
        let hop = spec.window.kind == .tumbling ? spec.window.size : spec.window.hop
        return (hop, Int64((spec.window.size / hop).rounded()))
    }

    /// The stats of the window holding `t`, without adding anything: what `add` returns
    /// after adding, and what a skipped bad value reads.
    func read(at t: Double, spec: FeatureSpec.Aggregate) -> RunningStats {
        var out = RunningStats(distinct: spec.stats.contains(.distinct))
        switch self {
        case .global(let s): return s
        case .buckets(let bs):
            let (hop, k) = Self.bucketing(spec)
            let b = bucketNumber(t / hop)
            for bucket in bs where bucket.index > b - k && bucket.index <= b { out.merge(bucket.stats) }
        case .sliding(let ps):
            // (t - size, t], in time order.
            for p in ps where p.time > t - spec.window.size && p.time <= t { out.add(p.value, time: p.time) }
        case .sessions(let ss):
            if let s = ss.first(where: { t >= $0.start - spec.window.gap && t <= $0.end + spec.window.gap }) { return s.stats }
        }
        return out
    }
}

/// A window bucket number: `x` rounded down, clamped so that any finite (or infinite) time
/// gives a number and arithmetic on it cannot overflow. Parsed timestamps are within ±1e12 s;
/// this keeps a watermark of -infinity (no event yet) or a tiny hop from trapping.
@inline(__always)
func bucketNumber(_ x: Double) -> Int64 {
    let limit = Double(Int64(1) << 61)
    guard x.isFinite else { return x > 0 ? Int64(1) << 61 : -(Int64(1) << 61) }
    return Int64(min(max(x.rounded(.down), -limit), limit))
}
