#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Features
import Models

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
    /// `[model] name`: the champion's name in a cluster of several models.
    public var modelName = "main"
    /// `[model] features` and `hashed`: the champion's inputs (default: every dense feature
    /// and the hashed space), as for challengers.
    public var modelFeatures: [String] = []
    public var modelHashed = true
    /// `[challengers.NAME]`: models scored beside the champion (issue 11), by name.
    public var challengers: [ModelEntry] = []
    public var lifecycle = LifecycleSection()
    public var security = SecuritySection()

    public init() {}

    /// The models this file starts the cluster with: `[model]` as the champion, then the
    /// challengers. Deploy, retire and promote change the coordinator's copy of it.
    public var layout: ModelLayout {
        ModelLayout(models: [ModelEntry(name: modelName, spec: model, features: modelFeatures, hashed: modelHashed)] + challengers,
                    champion: modelName)
    }

    public struct ClusterSection: Sendable, Codable, Equatable {
        public var name = "tributary"
        public var logLevel = "info"
        /// What `log_level` (and the `--log-level` flag) may be.
        public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error"]
        /// "text" (for people) or "json" (one object per line, for log collectors).
        public var logFormat = "text"
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
        /// Per-partition feature state (changelog; same partition count as the input topic).
        /// "" = "<group_id>.features": the state belongs to the consumer group whose offsets
        /// it is in step with (a new group starts from fresh state, as it starts from fresh offsets).
        public var changelogTopic = ""
        public var effectiveChangelogTopic: String { changelogTopic.isEmpty ? "\(groupId).features" : changelogTopic }
        /// Every global model version is written here (one partition; compacted on real brokers).
        public var modelTopic = "tributary.models"
        /// Partitions of the input topic when Tributary creates it.
        public var partitions = 4
        /// Replicas of every topic Tributary creates; 0 = 3, capped at the broker count (with
        /// a warning on an external cluster of fewer brokers). One broker's loss then loses
        /// neither the feature changelog nor the model history.
        public var replicationFactor = 0
        /// `min.insync.replicas` of every topic Tributary creates; 0 = the broker's default.
        public var minInsyncReplicas = 0

        /// The replication factor to create topics with on a cluster of `brokers` brokers,
        /// and whether the configured (or default) factor had to be capped.
        public func effectiveReplication(brokers: Int) -> (factor: Int, capped: Bool) {
            let wanted = replicationFactor > 0 ? replicationFactor : 3
            return (max(1, min(wanted, brokers)), wanted > brokers)
        }
        /// Where workers commit input offsets (never used for group-protocol assignment).
        public var groupId = "tributary"
        /// Passed to every librdkafka client as-is (CONFIGURATION.md names).
        public var client: [String: String] = [:]
        public var consumer: [String: String] = [:]
        public var producer: [String: String] = [:]

        /// What happens to a record through crashes (docs/CONFIG.md, "Delivery guarantees").
        public var guarantee = DeliveryGuarantee.atLeastOnce

        public var isEmbedded: Bool { bootstrap == "embedded" }

        /// The transactional.id of the producer that writes one input partition's outputs in
        /// exactly-once mode. One per input partition (not per worker), so whoever owns the
        /// partition next fences whoever owned it before.
        public func transactionalId(partition: Int32) -> String { "\(groupId).\(inputTopic).\(partition)" }
    }

    public enum DeliveryGuarantee: String, Sendable, Codable, Equatable {
        /// An input offset is committed after its outputs are delivered and the feature
        /// state that includes it is checkpointed; a crash replays (duplicates downstream).
        case atLeastOnce = "at_least_once"
        /// Outputs, dead letters, changelog writes and input offsets commit in one Kafka
        /// transaction per input partition; read_committed readers see each output once.
        case exactlyOnce = "exactly_once"
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
                                            oneOf: ClusterSection.logLevels)
            cluster.logFormat = try t.string("log_format", cluster.logFormat, oneOf: ["text", "json"])
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
            kafka.changelogTopic = try t.string("changelog_topic", kafka.changelogTopic)
            kafka.partitions = try t.int("partitions", kafka.partitions, min: 1, max: 10_000)
            kafka.replicationFactor = try t.int("replication_factor", kafka.replicationFactor, min: 0, max: 32)
            kafka.minInsyncReplicas = try t.int("min_insync_replicas", kafka.minInsyncReplicas, min: 0, max: 32)
            if kafka.minInsyncReplicas > 0 && kafka.replicationFactor > 0 && kafka.minInsyncReplicas > kafka.replicationFactor {
                throw ConfigError(line: t.table["min_insync_replicas"]?.line ?? 0, key: "kafka.min_insync_replicas",
                                  "\(kafka.minInsyncReplicas) is more than kafka.replication_factor (\(kafka.replicationFactor)): no write could ever succeed")
            }
            kafka.groupId = try t.string("group_id", kafka.groupId)
            kafka.client = try t.stringMap("client")
            kafka.consumer = try t.stringMap("consumer")
            kafka.producer = try t.stringMap("producer")
            kafka.guarantee = .init(rawValue: try t.string("guarantee", kafka.guarantee.rawValue,
                                                           oneOf: ["at_least_once", "exactly_once"]))!
            if kafka.guarantee == .exactlyOnce && kafka.isEmbedded {
                // Refused rather than pretended: the mock accepts the calls but keeps no
                // markers, filters nothing for read_committed and fences no one (KAFKA.md).
                throw ConfigError(line: t.table["guarantee"]?.line ?? 0, key: "kafka.guarantee",
                                  "exactly_once needs a real broker (kafka.bootstrap): the embedded broker's transactions are not real")
            }
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
            modelName = try t.string("name", modelName)
            if let why = ModelLayout.nameProblem(modelName) {
                throw ConfigError(line: t.table["name"]?.line ?? 0, key: "model.name", why)
            }
            modelFeatures = try t.strings("features", modelFeatures)
            modelHashed = try t.bool("hashed", modelHashed)
            if let why = layout.models[0].problem(with: features) {
                throw ConfigError(line: t.table["features"]?.line ?? t.table.line, key: "model.features", why)
            }
            try t.finish()
        }
        do {
            var all = try root.table("challengers")
            for (name, node) in all.table.entries {
                var t = try all.table(name)
                let line = node.line
                let entry = try ModelEntry(reading: &t, name: name, syncIntervalMs: model.syncIntervalMs)
                if name == modelName {
                    throw ConfigError(line: line, key: "challengers.\(name)", "has the champion's name ([model] name)")
                }
                if let why = entry.problem(with: features) {
                    throw ConfigError(line: line, key: "challengers.\(name)", why)
                }
                challengers.append(entry)
            }
            try all.finish()
            if let why = layout.problem(with: features) {
                throw ConfigError(line: all.table.line, key: "challengers", why)
            }
        }
        do {
            var t = try root.table("lifecycle")
            lifecycle.shadowTopic = try t.string("shadow_topic", lifecycle.shadowTopic)
            lifecycle.promoteMetric = try t.string("promote_metric", lifecycle.promoteMetric,
                                                   oneOf: [""] + LifecycleSection.metrics)
            lifecycle.promoteMargin = try t.double("promote_margin", lifecycle.promoteMargin, min: 0)
            lifecycle.promoteMinRecords = try t.int("promote_min_records", lifecycle.promoteMinRecords, min: 1)
            if !lifecycle.promoteMetric.isEmpty && !model.type.task.metricNames.contains(lifecycle.promoteMetric) {
                throw ConfigError(line: t.table["promote_metric"]?.line ?? 0, key: "lifecycle.promote_metric",
                                  "'\(lifecycle.promoteMetric)' is not a \(model.type.task.rawValue) metric (\(model.type.task.metricNames.joined(separator: ", ")))")
            }
            try t.finish()
        }
        do {
            var t = try root.table("security")
            security = try SecuritySection(reading: &t)
            try t.finish()
        }
        try root.finish()
    }

    /// Parses and validates `cluster.conf` text. Files it names (model.weights_file) are read
    /// relative to `directory`.
    public static func parse(_ text: String, directory: String = ".") throws(ConfigError) -> ClusterConfig {
        var c = try ClusterConfig(from: TOMLParser.parse(text))
        func resolved(_ file: String) -> String { file.hasPrefix("/") ? file : "\(directory)/\(file)" }
        if !c.model.weightsFile.isEmpty {
            let path = resolved(c.model.weightsFile)
            let key = "model.weights_file"
            let bytes = try readFile(path, key: key)
            let m: PretrainedModel
            do { m = try JSONDecoder().decode(PretrainedModel.self, from: Data(bytes)) } catch {
                throw ConfigError(line: 0, key: key, "\(path) is not a Tributary weights file: \(describe(error))")
            }
            if let why = m.validate(kind: c.model.type, classes: c.model.classes, featureNames: c.features.featureNames,
                                    denseCount: c.features.denseNames.count) {
                throw ConfigError(line: 0, key: key, "\(path): \(why)")
            }
            c.model.pretrained = m
        }
        if c.security.curve {
            let key = "security.secret_key_file"
            let path = resolved(c.security.secretKeyFile)
            guard let secret = CurveKeyText.parse(String(decoding: try readFile(path, key: key), as: UTF8.self)).secretKey else {
                throw ConfigError(line: 0, key: key, "\(path) holds no secret key (expected a line secret = \"...\" from `tributary keys generate`)")
            }
            c.security.secretKey = secret
        }
        return c
    }

    static func readFile(_ path: String, key: String? = nil) throws(ConfigError) -> [UInt8] {
        guard let f = fopen(path, "rb") else {
            throw ConfigError(line: 0, key: key, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buf[0..<n])
        }
        return bytes
    }

    /// Reads and validates a file; a missing file is an error naming the path.
    public static func load(path: String) throws(ConfigError) -> ClusterConfig {
        let bytes = try readFile(path)
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        do {
            return try parse(String(decoding: bytes, as: UTF8.self), directory: directory)
        } catch {
            throw ConfigError(line: error.line, key: error.key, "\(error.message) [in \(path)]")
        }
    }
}

/// A decoding error as a person reads it: which field, what was wrong.
private func describe(_ e: any Error) -> String {
    switch e as? DecodingError {
    case .keyNotFound(let k, _)?: return "missing field '\(k.stringValue)'"
    case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?:
        return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
    case .dataCorrupted(let c)?: return c.debugDescription
    default: return "\(e)"
    }
}

extension FeatureSpec {
    /// Reads `[features]`. Every rule that would make the pipeline ambiguous or undefined is
    /// checked here, so a worker never starts with a spec it cannot run.
    init(reading t: inout TableReader) throws(ConfigError) {
        self.init()
        key = try t.string("key", key)
        timestamp = try t.string("timestamp", timestamp)
        timestampUnit = TimestampUnit(rawValue: try t.string("timestamp_unit", timestampUnit.rawValue,
                                                             oneOf: TimestampUnit.allCases.map(\.rawValue)))!
        label = try t.string("label", label)
        numeric = try t.strings("numeric", numeric)
        hashBits = try t.int("hash_bits", hashBits, min: 1, max: 24)
        ttlSeconds = try t.double("ttl_s", ttlSeconds, min: 0)
        allowedLatenessSeconds = try t.double("allowed_lateness_s", allowedLatenessSeconds, min: 0)
        lateRecords = LatePolicy(rawValue: try t.string("late_records", lateRecords.rawValue,
                                                        oneOf: LatePolicy.allCases.map(\.rawValue)))!
        onBadValue = BadValuePolicy(rawValue: try t.string("on_bad_value", onBadValue.rawValue,
                                                           oneOf: BadValuePolicy.allCases.map(\.rawValue)))!
        defaultValue = try t.double("default_value", defaultValue)
        maxTextBytes = try t.int("max_text_bytes", maxTextBytes, min: 1, max: 64 << 20)
        emit = try t.bool("emit", emit)
        categorical = []
        for var c in try t.tables("categorical") {
            let field = try required(&c, "field")
            let enc = Encoding(rawValue: try c.string("encoding", "hashed", oneOf: Encoding.allCases.map(\.rawValue)))!
            let values = try c.strings("values", [])
            if enc == .onehot && values.isEmpty {
                throw ConfigError(line: c.table.line, key: "\(c.path).values", "one-hot encoding needs the list of values")
            }
            try c.finish()
            categorical.append(Categorical(field: field, encoding: enc, values: values))
        }
        text = []
        for var c in try t.tables("text") {
            let field = try required(&c, "field")
            let ngrams = try c.int("ngrams", 2, min: 1, max: 2)
            try c.finish()
            text.append(TextField(field: field, ngrams: ngrams))
        }
        if t.table["aggregates"] != nil {
            aggregates = []
            for var a in try t.tables("aggregates") {
                let field = try a.string("field", "")
                var stats: [Stat] = []
                for s in try a.strings("stats", ["mean", "count"]) {
                    guard let st = Stat(rawValue: s) else {
                        throw ConfigError(line: a.table["stats"]?.line ?? a.table.line, key: "\(a.path).stats",
                                          "'\(s)' is not one of \(Stat.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    stats.append(st)
                }
                if stats.isEmpty { throw ConfigError(line: a.table.line, key: "\(a.path).stats", "must name at least one stat") }
                if field.isEmpty, let s = stats.first(where: { $0 != .count && $0 != .sinceLast }) {
                    throw ConfigError(line: a.table.line, key: "\(a.path).field",
                                      "is required for '\(s.rawValue)' (only count and since_last work without a field)")
                }
                let kindName = try a.string("window", "none", oneOf: WindowKind.allCases.map(\.rawValue))
                var w = Window(kind: WindowKind(rawValue: kindName)!)
                w.size = try a.double("size_s", 0, min: 0)
                w.hop = try a.double("hop_s", 0, min: 0)
                w.gap = try a.double("gap_s", 0, min: 0)
                let alpha = try a.double("alpha", 0.5, min: 1e-9, max: 1)
                let line = a.table.line
                switch w.kind {
                case .none:
                    break
                case .tumbling, .sliding:
                    if w.size <= 0 { throw ConfigError(line: line, key: "\(a.path).size_s", "a \(kindName) window needs size_s > 0") }
                case .hopping:
                    if w.size <= 0 || w.hop <= 0 {
                        throw ConfigError(line: line, key: "\(a.path).hop_s", "a hopping window needs size_s > 0 and hop_s > 0")
                    }
                    let k = w.size / w.hop
                    if k != k.rounded() || k > 1000 {
                        throw ConfigError(line: line, key: "\(a.path).hop_s",
                                          "size_s (\(w.size)) must be a multiple of hop_s (\(w.hop)), at most 1000 hops")
                    }
                case .session:
                    if w.gap <= 0 { throw ConfigError(line: line, key: "\(a.path).gap_s", "a session window needs gap_s > 0") }
                }
                if w.kind != .none, let s = stats.first(where: \.unwindowedOnly) {
                    throw ConfigError(line: a.table["stats"]?.line ?? line, key: "\(a.path).stats",
                                      "'\(s.rawValue)' is only defined without a window (it depends on event order across the key's whole history)")
                }
                try a.finish()
                aggregates.append(Aggregate(field: field, stats: stats, window: w, alpha: alpha))
            }
        }
        targetEncoding = []
        for var c in try t.tables("target_encoding") {
            let field = try required(&c, "field")
            let smoothing = try c.double("smoothing", 10, min: 0)
            try c.finish()
            targetEncoding.append(TargetEncoding(field: field, smoothing: smoothing))
        }
        if key.isEmpty { throw ConfigError(line: t.table["key"]?.line ?? 0, key: "features.key", "must not be empty") }
        if needsEventTime && timestamp.isEmpty {
            throw ConfigError(line: t.table["timestamp"]?.line ?? 0, key: "features.timestamp",
                              "windows, ttl_s and since_last need an event-time field")
        }
        if !targetEncoding.isEmpty && label.isEmpty {
            throw ConfigError(line: t.table["label"]?.line ?? 0, key: "features.label", "target encoding needs a label field")
        }
        if denseNames.isEmpty && hashedWidth == 0 {
            throw ConfigError(line: t.table.line, key: "features", "no features: give 'numeric', 'categorical', 'text', 'aggregates' or 'target_encoding'")
        }
    }
}

private func required(_ t: inout TableReader, _ key: String) throws(ConfigError) -> String {
    let v = try t.string(key, "")
    if v.isEmpty { throw ConfigError(line: t.table.line, key: "\(t.path).\(key)", "is required") }
    return v
}

extension ModelSpec {
    /// `[model]` (and a challenger's table): every key checked, errors naming key and line.
    init(reading t: inout TableReader) throws(ConfigError) {
        self.init()
        let typeLine = t.table["type"]?.line ?? t.table.line
        type = ModelKind(rawValue: try t.string("type", type.rawValue, oneOf: ModelKind.allCases.map(\.rawValue)))!
        classes = try t.strings("classes", classes)
        if classes.count > 10_000 {
            // Every worker allocates per class (weights, metrics): a bound for specs that come
            // over the wire (`model deploy`) as much as for files.
            throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"),
                              "\(classes.count) classes is too many (at most 10000)")
        }
        if type == .softmaxRegression {
            guard classes.count >= 2 else {
                throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"),
                                  "softmax_regression needs the class names, at least 2 (e.g. classes = [\"a\", \"b\", \"c\"])")
            }
            if Set(classes).count != classes.count {
                throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"), "class names repeat")
            }
        } else if !classes.isEmpty {
            throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"),
                              "only softmax_regression has classes (type is \(type.rawValue))")
        }
        optimizer.kind = .init(rawValue: try t.string("optimizer", optimizer.kind.rawValue,
                                                      oneOf: OptimizerSpec.Kind.allCases.map(\.rawValue)))!
        optimizer.learningRate = try t.double("learning_rate", optimizer.learningRate, min: 1e-9, max: 10)
        optimizer.schedule = .init(rawValue: try t.string("schedule", optimizer.schedule.rawValue,
                                                          oneOf: OptimizerSpec.Schedule.allCases.map(\.rawValue)))!
        optimizer.power = try t.double("power_t", optimizer.power, min: 0, max: 2)
        optimizer.beta1 = try t.double("beta1", optimizer.beta1, min: 0, max: 0.999999)
        optimizer.beta2 = try t.double("beta2", optimizer.beta2, min: 0, max: 0.99999999)
        optimizer.ftrlBeta = try t.double("ftrl_beta", optimizer.ftrlBeta, min: 0, max: 1e6)
        l1 = try t.double("l1", l1, min: 0, max: 10)
        l2 = try t.double("l2", l2, min: 0, max: 10)
        clipGradient = try t.double("clip_gradient", clipGradient, min: 1e-9)
        standardize = try t.bool("standardize", standardize)
        mode = try t.string("mode", mode, oneOf: ["learn", "inference"])
        weightsFile = try t.string("weights_file", weightsFile)
        if mode == "inference" && weightsFile.isEmpty {
            throw ConfigError(line: t.table["mode"]?.line ?? t.table.line, key: t.full("weights_file"),
                              "is required with mode = \"inference\" (the pre-trained weights to predict with)")
        }
        metricsWindow = try t.int("metrics_window", metricsWindow, min: 1, max: 10_000_000)
        driftDetector = try t.string("drift_detector", driftDetector, oneOf: ["page_hinkley", "off"])
        driftThreshold = try t.double("drift_threshold", driftThreshold, min: 1e-9)
        driftDelta = try t.double("drift_delta", driftDelta, min: 0)
        driftMinInstances = try t.int("drift_min_instances", driftMinInstances, min: 1)
        syncIntervalMs = try t.int("sync_interval_ms", syncIntervalMs, min: 0, max: 3_600_000)
        if mode == "inference" { syncIntervalMs = 0 }
        mergeRule = .init(rawValue: try t.string("merge", mergeRule.rawValue, oneOf: MergeRule.allCases.map(\.rawValue)))!
        checkpointFile = try t.string("checkpoint_file", checkpointFile)
        robustAveraging = try t.string("robust_averaging", robustAveraging, oneOf: ["clip", "reject", "off"])
        robustFactor = try t.double("robust_factor", robustFactor, min: 1.5, max: 1e6)
    }
}


extension ModelEntry {
    /// A challenger's table (`[challengers.NAME]`, or a `tributary model deploy` spec file):
    /// the [model] keys that describe one model, plus `features`, `hashed` and `ab_share`.
    init(reading t: inout TableReader, name: String, syncIntervalMs: Int) throws(ConfigError) {
        // Sync, merge and checkpoints are the cluster's (one parameter vector for every
        // model), so they are set once, in [model].
        for key in ["sync_interval_ms", "merge", "checkpoint_file", "robust_averaging", "robust_factor", "weights_file", "mode"]
        where t.table[key] != nil {
            throw ConfigError(line: t.table[key]!.line, key: t.full(key), "is set for the whole cluster in [model], not per model")
        }
        var spec = try ModelSpec(reading: &t)
        spec.syncIntervalMs = syncIntervalMs
        self.init(name: name, spec: spec, features: try t.strings("features", []), hashed: try t.bool("hashed", true),
                  abShare: try t.double("ab_share", 0, min: 0, max: 1))
        try t.finish()
    }

    /// A model spec file for `tributary model deploy` and `tributary replay`: `name = "..."`
    /// and the keys of a `[challengers.NAME]` table. The coordinator parses the text a deploy
    /// command carries with this too, so a spec from the wire has exactly the bounds a file
    /// has; it also checks it against the cluster's features.
    public static func parse(_ text: String, syncIntervalMs: Int = 0) throws(ConfigError) -> ModelEntry {
        var t = TableReader(try TOMLParser.parse(text), path: "")
        let name = try t.string("name", "")
        if let why = ModelLayout.nameProblem(name) {
            throw ConfigError(line: t.table["name"]?.line ?? 0, key: "name", name.isEmpty ? "is required (the model's name)" : why)
        }
        return try ModelEntry(reading: &t, name: name, syncIntervalMs: syncIntervalMs)
    }
}
