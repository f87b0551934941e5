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
    public var labels = LabelsSection()
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
        /// With `features.repartition`: the input re-keyed by the key field (same partition
        /// count as the input), which the feature stage then reads instead of the input.
        public var repartitionTopic: String { "\(groupId).repartition" }
        /// With `features.repartition` and `[labels]`: the labels re-keyed the same way.
        public var labelsRepartitionTopic: String { "\(groupId).labels-repartition" }
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
        /// Partitions move once membership has been quiet this long (at most 10× as long), so
        /// workers that join or leave together cause one rebalance with the fewest moves.
        public var rebalanceDelayMs = 200
        /// Prometheus endpoint "HOST:PORT" (`GET /metrics`); "" = off.
        public var metricsBind = ""
        /// The quality history (`tributary report`) keeps a sample this often, 1,440 of them.
        public var historyIntervalMs = 5000
        /// High availability (issue 23): "kafka" = several coordinators started with this
        /// config elect one active through a consumer group on `election_topic`; "off" = one.
        public var election = "off"
        /// The one-partition topic of the election; "" = "<group_id>.coordinators".
        public var electionTopic = ""
        /// The election group's session timeout: a dead active coordinator is replaced after
        /// about this long (Kafka's own failure detection).
        public var electionSessionMs = 6000
        /// Every coordinator's address, for workers and status clients (`--coordinator a,b`
        /// does the same); "" entries are not allowed.
        public var endpoints: [String] = []
        public var effectiveAdvertise: String { advertise.isEmpty ? bind : advertise }
        public var electing: Bool { election == "kafka" }
    }

    /// The workers' lease: `worker.lease_ms`, or 2/3 of the failure timeout.
    public var effectiveLeaseMs: Int { worker.leaseMs > 0 ? worker.leaseMs : coordinator.failureTimeoutMs * 2 / 3 }
    public var electionTopic: String { coordinator.electionTopic.isEmpty ? "\(kafka.groupId).coordinators" : coordinator.electionTopic }

    /// Why `[coordinator] election = "kafka"` cannot work with these settings, or nil.
    /// - forCoordinator: also the broker it needs (`tributary broker` reads the same file).
    public func electionProblem(forCoordinator: Bool = true) -> (key: String, message: String)? {
        guard coordinator.electing else { return nil }
        if forCoordinator && kafka.isEmbedded {
            return ("coordinator.election", "\"kafka\" needs a broker every coordinator shares: set kafka.bootstrap to `tributary broker`'s address or a Kafka cluster (the embedded broker lives inside one coordinator and dies with it)")
        }
        // A takeover (the dead member's session timeout, then the group's rebalance: about
        // 1.7 sessions measured on the embedded broker) must come before the workers' leases
        // run out, or they stop their partitions.
        let needed = 2 * coordinator.electionSessionMs + 2 * coordinator.heartbeatMs
        if effectiveLeaseMs <= needed {
            return ("worker.lease_ms", "\(effectiveLeaseMs) must be more than twice coordinator.election_session_ms plus 2 heartbeats (\(needed)), so workers keep their partitions through a takeover; set it to at least \(needed + 1000)")
        }
        return nil
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
            coordinator.rebalanceDelayMs = try t.int("rebalance_delay_ms", coordinator.rebalanceDelayMs, min: 0, max: 60_000)
            coordinator.metricsBind = try t.string("metrics_bind", coordinator.metricsBind)
            coordinator.historyIntervalMs = try t.int("history_interval_ms", coordinator.historyIntervalMs, min: 10, max: 3_600_000)
            coordinator.election = try t.string("election", coordinator.election, oneOf: ["off", "kafka"])
            coordinator.electionTopic = try t.string("election_topic", coordinator.electionTopic)
            coordinator.electionSessionMs = try t.int("election_session_ms", coordinator.electionSessionMs, min: 100, max: 300_000)
            coordinator.endpoints = try t.strings("endpoints", coordinator.endpoints)
            for ep in coordinator.endpoints where !(ep.hasPrefix("tcp://") || ep.hasPrefix("ipc://")) {
                throw ConfigError(line: t.table["endpoints"]?.line ?? 0, key: "coordinator.endpoints",
                                  "'\(ep)' is not a ZeroMQ endpoint (expected tcp://HOST:PORT)")
            }
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
            if features.repartition && kafka.guarantee == .exactlyOnce {
                // Re-keying is a second produce-consume hop with its own offsets; one
                // transaction over both stages is not built.
                throw ConfigError(line: t.table["repartition"]?.line ?? 0, key: "features.repartition",
                                  "cannot be combined with kafka.guarantee = \"exactly_once\" (the re-keying stage is at-least-once)")
            }
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
            var t = try root.table("labels")
            labels.topic = try t.string("topic", labels.topic)
            labels.id = try t.string("id", labels.id)
            labels.label = try t.string("label", labels.label)
            labels.timestamp = try t.string("timestamp", labels.timestamp)
            labels.timestampUnit = FeatureSpec.TimestampUnit(rawValue: try t.string("timestamp_unit", labels.timestampUnit.rawValue,
                                                                                    oneOf: FeatureSpec.TimestampUnit.allCases.map(\.rawValue)))!
            labels.horizonSeconds = try t.double("horizon_s", labels.horizonSeconds, min: 0.001)
            labels.maxPending = try t.int("max_pending", labels.maxPending, min: 1, max: 100_000_000)
            labels.onExpired = .init(rawValue: try t.string("on_expired", labels.onExpired.rawValue,
                                                            oneOf: LabelsSection.Expired.allCases.map(\.rawValue)))!
            labels.lateLabels = .init(rawValue: try t.string("late_labels", labels.lateLabels.rawValue,
                                                             oneOf: LabelsSection.Late.allCases.map(\.rawValue)))!
            if labels.enabled {
                for (key, v) in [("id", labels.id), ("label", labels.label)] where v.isEmpty {
                    throw ConfigError(line: t.table[key]?.line ?? 0, key: "labels.\(key)", "must not be empty")
                }
                if labels.onExpired == .learnNegative && model.type != .logisticRegression {
                    throw ConfigError(line: t.table["on_expired"]?.line ?? 0, key: "labels.on_expired",
                                      "learn_negative needs a binary model (logistic_regression), not \(model.type.rawValue)")
                }
            }
            try t.finish()
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
        if let (key, message) = electionProblem(forCoordinator: false) { throw ConfigError(line: 0, key: key, message) }
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
            let file: WeightsFile
            do { file = try WeightsFile.read(bytes, type: c.model.type, classes: c.model.classes, features: c.features) } catch {
                // "PATH is not a ... file: ..." reads as a sentence; other problems follow a colon.
                let why = error.description
                throw ConfigError(line: 0, key: key, why.hasPrefix("is ") ? "\(path) \(why)" : "\(path): \(why)")
            }
            if case .pipeline(let p) = file, c.model.mode != "inference" {
                throw ConfigError(line: 0, key: key, "\(path) is a \(p.source ?? p.estimator.kindName) model (\(PretrainedPipeline.currentFormat)), which is served, not trained: set mode = \"inference\"")
            }
            file.apply(to: &c.model)
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
