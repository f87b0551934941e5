/// Running statistics of one field for one key: Welford's algorithm, as River's
/// `stats.Mean` / `stats.Var` compute them (so the values match River to rounding).
public struct RunningStats: Sendable, Equatable, Codable {
    public var count: Double = 0
    public var mean: Double = 0
    public var m2: Double = 0
    public var sum: Double = 0
    public var min: Double = .infinity
    public var max: Double = -.infinity

    public init() {}

    public mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / count
        m2 += delta * (x - mean)
        sum += x
        if x < min { min = x }
        if x > max { max = x }
    }

    /// Sample variance (ddof = 1), River's `stats.Var()` default; 0 with fewer than 2 values.
    public var variance: Double { count > 1 ? m2 / (count - 1) : 0 }

    public func value(_ stat: FeatureSpecStat) -> Double {
        switch stat {
        case .count: count
        case .sum: sum
        case .mean: mean
        case .variance: variance
        case .min: count > 0 ? min : 0
        case .max: count > 0 ? max : 0
        }
    }
}

/// The statistics an aggregate can read (mirrors Config's `FeatureSpec.Stat`, kept here so
/// Features depends on nothing).
public enum FeatureSpecStat: String, Sendable, Codable, CaseIterable {
    case count, sum, mean, variance, min, max
}

/// One aggregate: which parsed numeric value feeds it, and which stats are read.
public struct AggregateSpec: Sendable, Equatable {
    public var valueIndex: Int
    public var stats: [FeatureSpecStat]
    public init(valueIndex: Int, stats: [FeatureSpecStat]) {
        self.valueIndex = valueIndex
        self.stats = stats
    }
}

/// Per-key aggregate state for one input partition. It belongs to the partition (not the
/// worker) so that it can move with the partition.
public struct KeyedState: Sendable {
    public let aggregates: [AggregateSpec]
    /// key -> index into `stats` (rows of `aggregates.count`).
    private var index: [String: Int] = [:]
    private var stats: [RunningStats] = []

    public init(aggregates: [AggregateSpec]) { self.aggregates = aggregates }

    public var keyCount: Int { index.count }

    /// Updates the key's aggregates with this event, then writes the aggregate features
    /// (after the update, as River's `Agg` does: the current value is known at event time)
    /// into `out` starting at `offset`.
    public mutating func update(key: String, values: [Double], into out: inout [Double], offset: Int) {
        let row: Int
        if let r = index[key] {
            row = r
        } else {
            row = stats.count
            index[key] = row
            stats.append(contentsOf: repeatElement(RunningStats(), count: aggregates.count))
        }
        var o = offset
        for (a, spec) in aggregates.enumerated() {
            stats[row + a].add(values[spec.valueIndex])
            for s in spec.stats {
                out[o] = stats[row + a].value(s)
                o += 1
            }
        }
    }

    /// The state of one key (for tests and checkpoints).
    public func stats(for key: String) -> [RunningStats]? {
        guard let r = index[key] else { return nil }
        return Array(stats[r..<r + aggregates.count])
    }
}

/// Event bytes -> feature vector: the whole per-event feature path of a partition.
public struct FeaturePipeline: Sendable {
    public let parser: EventParser
    public let numericCount: Int
    public let aggregates: [AggregateSpec]
    public var width: Int { numericCount + aggregates.reduce(0) { $0 + $1.stats.count } }

    /// - numeric: fields used as they are; aggregates: (field, stats) per-key.
    public init(key: String, timestamp: String, label: String, numeric: [String],
                aggregates: [(field: String, stats: [FeatureSpecStat])]) {
        var paths = numeric
        var specs: [AggregateSpec] = []
        for a in aggregates {
            let idx: Int
            if let i = paths.firstIndex(of: a.field) { idx = i } else { paths.append(a.field); idx = paths.count - 1 }
            specs.append(AggregateSpec(valueIndex: idx, stats: a.stats))
        }
        parser = EventParser(keyPath: key, timestampPath: timestamp, labelPath: label, numericPaths: paths)
        numericCount = numeric.count
        self.aggregates = specs
    }

    public func makeState() -> KeyedState { KeyedState(aggregates: aggregates) }

    /// Fills `features` (length `width`) from an already parsed event, updating `state`.
    public func features(of event: ParsedEvent, state: inout KeyedState, into features: inout [Double]) {
        for i in 0..<numericCount { features[i] = event.values[i] }
        state.update(key: event.key, values: event.values, into: &features, offset: numericCount)
    }
}
