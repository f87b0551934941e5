#if canImport(Glibc)
import Glibc
#endif

/// Everything `cluster.conf` says. The coordinator loads it and hands the parts a worker
/// needs (Kafka, features, model) to every worker that registers, so the file lives in one
/// place. Every field has a default: an empty file is a valid local cluster.
public struct ClusterConfig: Sendable, Codable, Equatable {
    public var cluster = ClusterSection()
    public var kafka = KafkaSection()
    public var coordinator = CoordinatorSection()
    public var worker = WorkerSection()
    public var features = FeatureSpec()
    public var model = ModelSpec()

    public init() {}

    public struct ClusterSection: Sendable, Codable, Equatable {
        public var name = "tributary"
        public var logLevel = "info"
    }

    public struct KafkaSection: Sendable, Codable, Equatable {
        /// "embedded" starts librdkafka's mock cluster inside the coordinator.
        public var bootstrap = "embedded"
        /// One by default: with several, librdkafka 2.0.2's mock cluster was seen answering a
        /// consumer's fetches from a non-leader with nothing for seconds (docs/ARCHITECTURE.md).
        public var embeddedBrokers = 1
        public var inputTopic = "events"
        public var outputTopic = "predictions"
        public var deadLetterTopic = "events.dlq"
        /// Every global model version is written here (one partition; compacted on real brokers).
        public var modelTopic = "tributary.models"
        /// Partitions of the input topic when Tributary creates it.
        public var partitions = 4
        /// Where workers commit input offsets (never used for group-protocol assignment).
        public var groupId = "tributary"
        /// Passed to every librdkafka client as-is (CONFIGURATION.md names).
        public var client: [String: String] = [:]
        public var consumer: [String: String] = [:]
        public var producer: [String: String] = [:]

        public var isEmbedded: Bool { bootstrap == "embedded" }
    }

    public struct CoordinatorSection: Sendable, Codable, Equatable {
        /// Where the coordinator listens for workers and status clients.
        public var bind = "tcp://127.0.0.1:7400"
        /// The address workers and status clients use; defaults to `bind`.
        public var advertise = ""
        public var heartbeatMs = 500
        /// A worker silent for this long is declared dead and its partitions move.
        public var failureTimeoutMs = 3000
        /// Prometheus endpoint "HOST:PORT" (`GET /metrics`); "" = off.
        public var metricsBind = ""
        public var effectiveAdvertise: String { advertise.isEmpty ? bind : advertise }
    }

    public struct WorkerSection: Sendable, Codable, Equatable {
        /// Records read per poll.
        public var batchSize = 1000
        /// Offsets of delivered outputs are committed at most this often.
        public var commitIntervalMs = 200
        /// Consumption pauses while this many outputs await delivery (backpressure).
        public var maxInFlight = 50_000
        /// A worker that hears nothing from the coordinator for this long stops its
        /// partitions by itself; 0 = 2/3 of the coordinator's failure timeout.
        public var leaseMs = 0
    }

    public init(from toml: TOMLTable) throws(ConfigError) {
        var root = TableReader(toml, path: "")
        do {
            var t = try root.table("cluster")
            cluster.name = try t.string("name", cluster.name)
            cluster.logLevel = try t.string("log_level", cluster.logLevel,
                                            oneOf: ["trace", "debug", "info", "notice", "warning", "error"])
            try t.finish()
        }
        do {
            var t = try root.table("kafka")
            kafka.bootstrap = try t.string("bootstrap", kafka.bootstrap)
            kafka.embeddedBrokers = try t.int("embedded_brokers", kafka.embeddedBrokers, min: 1, max: 16)
            kafka.inputTopic = try t.string("input_topic", kafka.inputTopic)
            kafka.outputTopic = try t.string("output_topic", kafka.outputTopic)
            kafka.deadLetterTopic = try t.string("dead_letter_topic", kafka.deadLetterTopic)
            kafka.modelTopic = try t.string("model_topic", kafka.modelTopic)
            kafka.partitions = try t.int("partitions", kafka.partitions, min: 1, max: 10_000)
            kafka.groupId = try t.string("group_id", kafka.groupId)
            kafka.client = try t.stringMap("client")
            kafka.consumer = try t.stringMap("consumer")
            kafka.producer = try t.stringMap("producer")
            for (key, name) in [("input_topic", kafka.inputTopic), ("output_topic", kafka.outputTopic),
                                ("dead_letter_topic", kafka.deadLetterTopic), ("model_topic", kafka.modelTopic),
                                ("group_id", kafka.groupId)]
            where name.isEmpty {
                throw ConfigError(line: t.table[key]?.line ?? 0, key: "kafka.\(key)", "must not be empty")
            }
            if kafka.inputTopic == kafka.outputTopic {
                throw ConfigError(line: t.table["output_topic"]?.line ?? 0, key: "kafka.output_topic",
                                  "must differ from kafka.input_topic (\(kafka.inputTopic))")
            }
            try t.finish()
        }
        do {
            var t = try root.table("coordinator")
            coordinator.bind = try t.string("bind", coordinator.bind)
            coordinator.advertise = try t.string("advertise", coordinator.advertise)
            coordinator.heartbeatMs = try t.int("heartbeat_ms", coordinator.heartbeatMs, min: 10, max: 60_000)
            coordinator.failureTimeoutMs = try t.int("failure_timeout_ms", coordinator.failureTimeoutMs, min: 100, max: 600_000)
            coordinator.metricsBind = try t.string("metrics_bind", coordinator.metricsBind)
            for (key, ep) in [("bind", coordinator.bind), ("advertise", coordinator.advertise)] where !ep.isEmpty {
                guard ep.hasPrefix("tcp://") || ep.hasPrefix("ipc://") || ep.hasPrefix("inproc://") else {
                    throw ConfigError(line: t.table[key]?.line ?? 0, key: "coordinator.\(key)",
                                      "'\(ep)' is not a ZeroMQ endpoint (expected tcp://HOST:PORT)")
                }
            }
            if coordinator.failureTimeoutMs < 2 * coordinator.heartbeatMs {
                throw ConfigError(line: t.table["failure_timeout_ms"]?.line ?? 0, key: "coordinator.failure_timeout_ms",
                                  "\(coordinator.failureTimeoutMs) must be at least twice heartbeat_ms (\(coordinator.heartbeatMs))")
            }
            try t.finish()
        }
        do {
            var t = try root.table("worker")
            worker.batchSize = try t.int("batch_size", worker.batchSize, min: 1, max: 100_000)
            worker.commitIntervalMs = try t.int("commit_interval_ms", worker.commitIntervalMs, min: 1, max: 600_000)
            worker.maxInFlight = try t.int("max_in_flight", worker.maxInFlight, min: 1, max: 10_000_000)
            worker.leaseMs = try t.int("lease_ms", worker.leaseMs, min: 0, max: 600_000)
            try t.finish()
        }
        do {
            var t = try root.table("features")
            features = try FeatureSpec(reading: &t)
            try t.finish()
        }
        do {
            var t = try root.table("model")
            model = try ModelSpec(reading: &t)
            try t.finish()
        }
        try root.finish()
    }

    /// Parses and validates `cluster.conf` text.
    public static func parse(_ text: String) throws(ConfigError) -> ClusterConfig {
        try ClusterConfig(from: TOMLParser.parse(text))
    }

    /// Reads and validates a file; a missing file is an error naming the path.
    public static func load(path: String) throws(ConfigError) -> ClusterConfig {
        guard let f = fopen(path, "rb") else {
            throw ConfigError(line: 0, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buf[0..<n])
        }
        do {
            return try parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw ConfigError(line: error.line, key: error.key, "\(error.message) [in \(path)]")
        }
    }
}

/// Which fields of an event become model inputs, and how.
public struct FeatureSpec: Sendable, Codable, Equatable {
    /// Dotted path of the key that per-key state is grouped by (also the output key).
    public var key = "user"
    /// Dotted path of the event-time field (seconds since the epoch).
    public var timestamp = "ts"
    /// Dotted path of the label; events without it are scored but not learnt from.
    public var label = "y"
    /// Numeric fields, used as they are (then standard-scaled by the model).
    public var numeric = ["x.f0", "x.f1", "x.f2", "x.f3", "x.f4", "x.f5", "x.f6", "x.f7"]
    /// Per-key aggregates.
    public var aggregates = [Aggregate(field: "x.f0", stats: [.mean, .count])]

    public enum Stat: String, Sendable, Codable, Equatable, CaseIterable {
        case count, sum, mean, variance, min, max
    }

    public struct Aggregate: Sendable, Codable, Equatable {
        public var field: String
        public var stats: [Stat]
        public init(field: String, stats: [Stat]) {
            self.field = field
            self.stats = stats
        }
    }

    public init() {}

    /// Feature names in the order of the model's input vector.
    public var featureNames: [String] {
        numeric + aggregates.flatMap { a in a.stats.map { "\(a.field).\($0.rawValue)_by_\(key)" } }
    }

    init(reading t: inout TableReader) throws(ConfigError) {
        key = try t.string("key", key)
        timestamp = try t.string("timestamp", timestamp)
        label = try t.string("label", label)
        numeric = try t.strings("numeric", numeric)
        if t.table["aggregates"] != nil {
            aggregates = []
            for var a in try t.tables("aggregates") {
                let field = try a.string("field", "")
                if field.isEmpty { throw ConfigError(line: a.table.line, key: "\(a.path).field", "is required") }
                var stats: [Stat] = []
                for s in try a.strings("stats", ["mean", "count"]) {
                    guard let st = Stat(rawValue: s) else {
                        throw ConfigError(line: a.table["stats"]?.line ?? a.table.line, key: "\(a.path).stats",
                                          "'\(s)' is not one of \(Stat.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    stats.append(st)
                }
                try a.finish()
                aggregates.append(Aggregate(field: field, stats: stats))
            }
        }
        if key.isEmpty { throw ConfigError(line: t.table["key"]?.line ?? 0, key: "features.key", "must not be empty") }
        if featureNames.isEmpty {
            throw ConfigError(line: t.table.line, key: "features", "no features: give 'numeric' fields or 'aggregates'")
        }
    }
}

/// The online model every worker runs.
public struct ModelSpec: Sendable, Codable, Equatable {
    public var type = "logistic_regression"
    public var learningRate = 0.01
    public var l2 = 0.0
    /// Online standard scaling of the inputs (River's StandardScaler).
    public var standardize = true
    /// Workers send weight deltas this often; the coordinator averages them. 0 = off.
    public var syncIntervalMs = 1000
    /// Also write each global version to this JSON file (atomically); "" = Kafka topic only.
    public var checkpointFile = ""

    public init() {}

    init(reading t: inout TableReader) throws(ConfigError) {
        type = try t.string("type", type, oneOf: ["logistic_regression"])
        learningRate = try t.double("learning_rate", learningRate, min: 1e-9, max: 10)
        l2 = try t.double("l2", l2, min: 0, max: 10)
        standardize = try t.bool("standardize", standardize)
        syncIntervalMs = try t.int("sync_interval_ms", syncIntervalMs, min: 0, max: 3_600_000)
        checkpointFile = try t.string("checkpoint_file", checkpointFile)
    }
}
