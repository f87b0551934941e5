#if canImport(Glibc)
import Glibc
#endif

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
        // payload's arrays are uniquely referenced and mutate in place. `consume` ends
        // `payload`'s own reference: without it the bound array was shared with it, and every
        // event copied the key's window array (an allocation and a free per aggregate).
        let payload = self
        self = .sliding([])
        switch consume payload {
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
