/// Which fields of an event become model inputs, and how: the `[features]` section of
/// `cluster.conf` (Config parses it; docs/CONFIG.md documents it). A plain value type so the
/// coordinator can hand it to every worker in the welcome message.
///
/// Model input layout (`FeaturePipeline.denseNames`, then the hashed space):
///   numeric fields | one-hot blocks | aggregate stats | target encodings || hashed (2^hash_bits)
public struct FeatureSpec: Sendable, Codable, Equatable {
    /// Dotted path of the key that per-key state is grouped by (also the output key).
    public var key = "user"
    /// Re-key the input by `key` through an internal topic before any per-key state is
    /// touched (Kafka Streams' selectKey + repartition), for input not keyed by it.
    public var repartition = false
    /// Dotted path of the event-time field, in `timestampUnit`; `@kafka` takes the record's
    /// Kafka timestamp instead (milliseconds, set by the producer or the broker).
    public var timestamp = "ts"
    /// How the event-time field is written: a number of seconds, milliseconds (Kafka's own
    /// convention), microseconds or nanoseconds since the epoch, or an ISO-8601 string.
    public var timestampUnit = TimestampUnit.seconds
    /// Dotted path of the label; events without it are scored but not learnt from.
    public var label = "y"
    /// Numeric fields, used as they are (then standard-scaled by the model).
    public var numeric = ["x.f0", "x.f1", "x.f2", "x.f3", "x.f4", "x.f5", "x.f6", "x.f7"]
    public var categorical: [Categorical] = []
    public var text: [TextField] = []
    /// Per-key aggregates, updated with the event before they are read (as River's `Agg`).
    public var aggregates = [Aggregate(field: "x.f0", stats: [.mean, .count])]
    public var targetEncoding: [TargetEncoding] = []
    /// Size of the hashed space shared by hashed categoricals and text (2^bits weights).
    public var hashBits = 18
    /// Keys idle for this long in event time are forgotten (0 = never).
    public var ttlSeconds = 0.0
    /// Windowed aggregates accept records this far behind the partition's newest event time.
    public var allowedLatenessSeconds = 0.0
    public var lateRecords = LatePolicy.deadLetter
    public var onBadValue = BadValuePolicy.deadLetter
    /// Used for a missing/invalid numeric value when `on_bad_value = "default"`.
    public var defaultValue = 0.0
    /// Text fields longer than this are bad values (oversized).
    public var maxTextBytes = 65_536
    /// Each prediction carries its feature vector (dense part), for audits and tests.
    public var emit = false

    public init() {}

    public enum Stat: String, Sendable, Codable, Equatable, CaseIterable {
        case count, sum, mean, variance, min, max, ewma, last
        case sinceLast = "since_last"
        /// The stats an aggregate over a string field can give (its other stats need numbers).
        /// `last` of a string: see `FeaturePipeline.stringLast`.
        public static let stringStats: Set<Stat> = [.count, .distinct, .sinceLast, .last]
        case distinct
        /// Stats that depend on event order and cannot be merged across window buckets.
        public var unwindowedOnly: Bool { self == .ewma || self == .last || self == .sinceLast }
    }

    public enum WindowKind: String, Sendable, Codable, Equatable, CaseIterable {
        case none, tumbling, hopping, sliding, session
    }

    /// An event-time window. tumbling: `size`; hopping: `size` every `hop` (size a multiple
    /// of hop); sliding: the last `size` seconds up to the event; session: events of a key
    /// no more than `gap` apart.
    public struct Window: Sendable, Codable, Equatable {
        public var kind: WindowKind
        public var size: Double
        public var hop: Double
        public var gap: Double
        public init(kind: WindowKind = .none, size: Double = 0, hop: Double = 0, gap: Double = 0) {
            self.kind = kind
            self.size = size
            self.hop = hop
            self.gap = gap
        }
        public static let none = Window()
    }

    public struct Aggregate: Sendable, Codable, Equatable {
        public var field: String
        public var stats: [Stat]
        public var window: Window
        /// EWMA smoothing: new = alpha * x + (1 - alpha) * old.
        public var alpha: Double
        public init(field: String, stats: [Stat], window: Window = .none, alpha: Double = 0.5) {
            self.field = field
            self.stats = stats
            self.window = window
            self.alpha = alpha
        }
        public var name: String {
            switch window.kind {
            case .none: field
            case .tumbling: "\(field).tumbling\(fmt(window.size))"
            case .hopping: "\(field).hopping\(fmt(window.size))/\(fmt(window.hop))"
            case .sliding: "\(field).sliding\(fmt(window.size))"
            case .session: "\(field).session\(fmt(window.gap))"
            }
        }
    }

    public enum Encoding: String, Sendable, Codable, Equatable, CaseIterable {
        case onehot, hashed
    }

    /// A categorical field: one-hot over `values` (plus one "other" slot), or hashed.
    public struct Categorical: Sendable, Codable, Equatable {
        public var field: String
        public var encoding: Encoding
        public var values: [String]
        public init(field: String, encoding: Encoding = .hashed, values: [String] = []) {
            self.field = field
            self.encoding = encoding
            self.values = values
        }
    }

    /// A text field: lower-cased, split on anything but letters and digits, hashed unigrams
    /// (and bigrams when `ngrams = 2`), each counted.
    public struct TextField: Sendable, Codable, Equatable {
        public var field: String
        public var ngrams: Int
        public init(field: String, ngrams: Int = 2) {
            self.field = field
            self.ngrams = ngrams
        }
    }

    /// Running mean of the label per value of `field`, smoothed towards the partition's
    /// label mean: (sum + prior * smoothing) / (count + smoothing). Read before the event's
    /// own label is added, so the label never leaks into its own features.
    public struct TargetEncoding: Sendable, Codable, Equatable {
        public var field: String
        public var smoothing: Double
        public init(field: String, smoothing: Double = 10) {
            self.field = field
            self.smoothing = smoothing
        }
    }

    public enum TimestampUnit: String, Sendable, Codable, Equatable, CaseIterable {
        case seconds = "s", milliseconds = "ms", microseconds = "us", nanoseconds = "ns", iso8601

        /// A numeric timestamp in this unit is its value × 10^-decimalShift seconds.
        public var decimalShift: Int {
            switch self {
            case .seconds, .iso8601: 0
            case .milliseconds: 3
            case .microseconds: 6
            case .nanoseconds: 9
            }
        }
    }

    /// `timestamp = "@kafka"`: event time is the record's Kafka timestamp.
    public static let kafkaTimestamp = "@kafka"
    public var usesKafkaTimestamp: Bool { timestamp == Self.kafkaTimestamp }

    public enum LatePolicy: String, Sendable, Codable, Equatable, CaseIterable {
        /// Counted and not scored (the offset is still committed).
        case drop
        /// Sent to the dead-letter topic with reason "late".
        case deadLetter = "dead_letter"
    }

    public enum BadValuePolicy: String, Sendable, Codable, Equatable, CaseIterable {
        /// The record goes to the dead-letter topic with the reason (nothing is scored).
        case deadLetter = "dead_letter"
        /// The value is replaced by `default_value` (categoricals and text: empty).
        case `default`
        /// The feature is left out: 0 in the input, and its aggregates are not updated.
        case skip
        /// As `skip`, but a numeric feature is NaN (missing) in the input, for pre-trained
        /// models that take missing values (tree ensembles); online models read it as 0.
        case missing
    }

    /// Whether any per-key state is kept (then a changelog is written).
    public var isStateful: Bool { !aggregates.isEmpty || !targetEncoding.isEmpty }
    public var hasWindows: Bool { aggregates.contains { $0.window.kind != .none } }
    /// Event time is needed by windows, TTL and since_last.
    public var needsEventTime: Bool {
        hasWindows || ttlSeconds > 0 || aggregates.contains { $0.stats.contains(.sinceLast) }
    }
    public var hashedWidth: Int {
        categorical.contains { $0.encoding == .hashed } || !text.isEmpty ? 1 << hashBits : 0
    }

    /// Names of the dense inputs, in order.
    public var denseNames: [String] {
        var n = numeric
        for c in categorical where c.encoding == .onehot {
            n += c.values.map { "\(c.field)=\($0)" } + ["\(c.field)=<other>"]
        }
        for a in aggregates { n += a.stats.map { "\(a.name).\($0.rawValue)_by_\(key)" } }
        for t in targetEncoding { n.append("\(t.field).target_mean") }
        return n
    }

    /// Identifies the model's inputs (checkpoints compare it): the dense names, then one
    /// entry for the hashed space. Use `width` for the input count.
    public var featureNames: [String] {
        let h = hashedWidth
        return h == 0 ? denseNames : denseNames + ["<hashed \(h)>"]
    }
    public var width: Int { denseNames.count + hashedWidth }
}

private func fmt(_ d: Double) -> String {
    d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) + "s" : "\(d)s"
}
