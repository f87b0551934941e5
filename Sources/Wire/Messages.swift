import Foundation
import Config
import Models

/// Tributary's control-plane protocol, version 1 (docs/PROTOCOL.md).
///
/// Every message is a ZeroMQ multipart message: frame 0 is the 4-byte protocol tag "TRB1",
/// frame 1 a JSON object `{"type": "...", "body": {...}}`. JSON keeps the protocol readable
/// from any language (the pyzmq status example is a few lines); these messages are control
/// traffic (heartbeats, assignments, status), far from the per-record hot path.
/// A message with another tag, unknown type or malformed body is rejected as a `WireError`.
public enum WireMessage: Sendable, Equatable {
    // worker -> coordinator
    case hello(Hello)
    case heartbeat(WorkerReport)
    case revoked(Revoked)
    case leaving(Leaving)
    /// What a worker's model learnt since the global version it last adopted.
    case modelDelta(ModelDelta)
    /// Operator commands on the global model (tributary model export|import|rollback).
    case modelCommand(ModelCommand)
    // coordinator -> worker
    case welcome(Welcome)
    case assign(Assignment)
    case revoke(Assignment)
    case ping(Ping)
    /// A new global model version (sent to every worker on its own link, so none is missed).
    case modelUpdate(ModelUpdate)
    /// "I do not know you (any more): say hello again." Sent after a coordinator restart or
    /// to a worker already declared dead.
    case reregister(Reregister)
    /// The answer to `leaving`: the worker may close its socket (closing earlier can lose
    /// what it still had in flight: ZeroMQ drops a closed peer's queued messages).
    case left(Leaving)
    // status client <-> coordinator
    case statusRequest(StatusRequest)
    case status(ClusterStatus)
    case error(WireFailure)

    public var typeName: String {
        switch self {
        case .hello: "hello"
        case .heartbeat: "heartbeat"
        case .revoked: "revoked"
        case .leaving: "leaving"
        case .modelDelta: "model_delta"
        case .modelUpdate: "model_update"
        case .modelCommand: "model_command"
        case .welcome: "welcome"
        case .assign: "assign"
        case .revoke: "revoke"
        case .ping: "ping"
        case .reregister: "reregister"
        case .left: "left"
        case .statusRequest: "status_request"
        case .status: "status"
        case .error: "error"
        }
    }
}

/// One partition held under an epoch. The epoch grows on every (re)assignment of that
/// partition; predictions carry it, so two owners can be told apart.
public struct PartitionLease: Sendable, Codable, Equatable, Hashable {
    public var partition: Int32
    public var epoch: Int
    public init(partition: Int32, epoch: Int) {
        self.partition = partition
        self.epoch = epoch
    }
}

public struct Hello: Sendable, Codable, Equatable {
    public var workerId: String
    public var host: String
    public var pid: Int32
    /// Partitions this worker still runs (after a coordinator restart): adopted, not moved.
    public var held: [PartitionLease]
    public init(workerId: String, host: String, pid: Int32, held: [PartitionLease]) {
        self.workerId = workerId
        self.host = host
        self.pid = pid
        self.held = held
    }
}

public struct Welcome: Sendable, Codable, Equatable {
    public var workerId: String
    /// The Kafka bootstrap servers in use (the embedded broker's when embedded).
    public var bootstrap: String
    /// What the worker needs of `cluster.conf`.
    public var settings: WorkerSettings
    public var heartbeatMs: Int
    /// Stop all partitions when nothing is heard from the coordinator for this long.
    public var leaseMs: Int
    /// The global model to start from (version 0 = untrained).
    public var modelVersion: Int
    public var modelParameters: [Double]
    /// The models the cluster runs now (deploys and promotions since the config was read);
    /// nil from a coordinator that predates them: `settings.layout`.
    public var layout: ModelLayout?
    public init(workerId: String, bootstrap: String, settings: WorkerSettings, heartbeatMs: Int, leaseMs: Int,
                modelVersion: Int = 0, modelParameters: [Double] = [], layout: ModelLayout? = nil) {
        self.layout = layout
        self.workerId = workerId
        self.bootstrap = bootstrap
        self.settings = settings
        self.heartbeatMs = heartbeatMs
        self.leaseMs = leaseMs
        self.modelVersion = modelVersion
        self.modelParameters = modelParameters
    }
}

public struct Assignment: Sendable, Codable, Equatable {
    public var partitions: [PartitionLease]
    public init(partitions: [PartitionLease]) { self.partitions = partitions }
}

public struct Revoked: Sendable, Codable, Equatable {
    public var workerId: String
    /// Released partitions with their epochs and the offset committed for each.
    public var partitions: [PartitionLease]
    public var committed: [Int64]
    public init(workerId: String, partitions: [PartitionLease], committed: [Int64]) {
        self.workerId = workerId
        self.partitions = partitions
        self.committed = committed
    }
}

/// Frame 2 carries the parameters (little-endian float64); the JSON says how many.
public struct ModelDelta: Sendable, Codable, Equatable {
    public var workerId: String
    /// Per-worker sequence number: the update that merged it names it back.
    public var seq: Int
    public var baseVersion: Int
    public var samples: Int
    public var delta: [Double]
    /// What the worker's input scaler saw since its base: per dense feature, the change in
    /// (n, Σx, Σx²). Raw moments add up, so the coordinator sums them into one cluster-wide
    /// scaler (empty: the model has no online scaler).
    public var scaler: [Double] = []
    public init(workerId: String, seq: Int, baseVersion: Int, samples: Int, delta: [Double], scaler: [Double] = []) {
        self.scaler = scaler
        self.workerId = workerId
        self.seq = seq
        self.baseVersion = baseVersion
        self.samples = samples
        self.delta = delta
    }
    enum CodingKeys: String, CodingKey { case workerId, seq, baseVersion, samples, scaler }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        scaler = try c.decodeIfPresent([Double].self, forKey: .scaler) ?? []
        workerId = try c.decode(String.self, forKey: .workerId)
        seq = try c.decode(Int.self, forKey: .seq)
        baseVersion = try c.decode(Int.self, forKey: .baseVersion)
        samples = try c.decode(Int.self, forKey: .samples)
        delta = []
    }
}

/// A global model version. Frame 2 carries the parameters.
public struct ModelUpdate: Sendable, Codable, Equatable {
    public var version: Int
    /// worker id -> the delta `seq` merged into this version.
    public var contributions: [String: Int]
    public var parameters: [Double]
    /// Set by import and rollback: workers drop their local progress and take these exact
    /// parameters (a rollback that kept local progress would keep what was rolled back).
    public var reset: Bool = false
    /// The feature names the parameters belong to (in answers to `export`).
    public var features: [String] = []
    /// The cluster-wide scaler's raw moments (see `ModelDelta.scaler`); empty if none.
    public var scaler: [Double] = []
    /// The models this version's parameters are laid out for and the champion from this
    /// version on: a promotion takes effect at a version, the same one on every worker. A
    /// change of models (deploy, retire) comes with `reset`. nil: unchanged.
    public var layout: ModelLayout?
    public init(version: Int, contributions: [String: Int], parameters: [Double], reset: Bool = false, features: [String] = [],
                scaler: [Double] = [], layout: ModelLayout? = nil) {
        self.scaler = scaler
        self.layout = layout
        self.version = version
        self.contributions = contributions
        self.parameters = parameters
        self.reset = reset
        self.features = features
    }
    enum CodingKeys: String, CodingKey { case version, contributions, reset, features, scaler, layout }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        scaler = try c.decodeIfPresent([Double].self, forKey: .scaler) ?? []
        layout = try c.decodeIfPresent(ModelLayout.self, forKey: .layout)
        version = try c.decode(Int.self, forKey: .version)
        contributions = try c.decode([String: Int].self, forKey: .contributions)
        reset = try c.decodeIfPresent(Bool.self, forKey: .reset) ?? false
        features = try c.decodeIfPresent([String].self, forKey: .features) ?? []
        parameters = []
    }
}

/// `export`: answer with the current global model. `import`: make `parameters` (frame 2) the
/// next version. `rollback`: make checkpoint `version`'s parameters the next version.
///
/// Model lifecycle (issue 11): `deploy` adds the model of `spec` (a spec file's TOML text,
/// parsed by the coordinator exactly as a file is), with `parameters` as its starting
/// weights (or none); `retire` removes model `name`, `promote` makes `name` the champion;
/// `ab` sets `name`'s A/B share to `share`; each answers with the version it takes effect at.
/// `export` with `name` answers with that model's part of the parameters.
public struct ModelCommand: Sendable, Codable, Equatable {
    public var action: String
    public var version: Int
    public var parameters: [Double]
    public var name: String
    public var spec: String
    public var share: Double
    public init(action: String, version: Int = 0, parameters: [Double] = [], name: String = "", spec: String = "",
                share: Double = 0) {
        self.action = action
        self.version = version
        self.parameters = parameters
        self.name = name
        self.spec = spec
        self.share = share
    }
    enum CodingKeys: String, CodingKey { case action, version, name, spec, share }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        action = try c.decode(String.self, forKey: .action)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 0
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        spec = try c.decodeIfPresent(String.self, forKey: .spec) ?? ""
        share = try c.decodeIfPresent(Double.self, forKey: .share) ?? 0
        parameters = []
    }
}

public struct Leaving: Sendable, Codable, Equatable {
    public var workerId: String
    public init(workerId: String) { self.workerId = workerId }
}

public struct Ping: Sendable, Codable, Equatable {
    public var nowMs: Int64
    public init(nowMs: Int64) { self.nowMs = nowMs }
}

public struct Reregister: Sendable, Codable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

public struct StatusRequest: Sendable, Codable, Equatable {
    public init() {}
}

public struct WireFailure: Sendable, Codable, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}

/// Per-partition progress as a worker reports it.
public struct PartitionReport: Sendable, Codable, Equatable {
    public var partition: Int32
    public var epoch: Int
    /// Next offset to read.
    public var position: Int64
    /// Last committed offset (next to read after a restart).
    public var committed: Int64
    /// High watermark minus position (records not yet read), -1 if unknown.
    public var lag: Int64
    public var processed: Int64
    /// Keys with feature state, and the size of that state as last written in full to the
    /// changelog (bytes; 0 before the first snapshot).
    public var keys: Int
    public var stateBytes: Int = 0
    /// Time the last restore from the changelog took (ms), and the keys it brought back.
    public var restoreMs: Int64 = 0
    public var restoredKeys: Int = 0
    public init(partition: Int32, epoch: Int, position: Int64, committed: Int64, lag: Int64, processed: Int64, keys: Int) {
        self.partition = partition
        self.epoch = epoch
        self.position = position
        self.committed = committed
        self.lag = lag
        self.processed = processed
        self.keys = keys
    }
}

/// What a worker tells the coordinator with every heartbeat.
public struct WorkerReport: Sendable, Codable, Equatable {
    public var workerId: String
    public var processed: Int64 = 0
    public var predictions: Int64 = 0
    public var deadLetters: Int64 = 0
    public var deadLettersByReason: [String: Int64] = [:]
    public var deliveryErrors: Int64 = 0
    /// Bad feature values by "reason:field" (whatever `on_bad_value` did with them).
    public var badValues: [String: Int64] = [:]
    /// Records behind the watermark dropped (late_records = "drop"); dead-lettered ones are
    /// in deadLettersByReason["late"].
    public var lateDropped: Int64 = 0
    /// Keys forgotten after their TTL.
    public var expiredKeys: Int64 = 0
    /// Feature-state changelog bytes written.
    public var changelogBytes: Int64 = 0
    /// Input offsets never read: removed by the broker (retention) before this worker got to
    /// them, or absent (compacted topics). Never silent: logged and shown in status.
    public var skippedOffsets: Int64 = 0
    /// Records whose Kafka key is not their `features.key` value (null keys included): their
    /// key's state may be split across partitions (docs/CONFIG.md, "Keys").
    public var keyMismatches: Int64 = 0
    /// Exactly-once: transactions committed and aborted (each abort replays its records from
    /// the last commit), and partitions given up because a newer owner fenced this worker.
    public var transactionsCommitted: Int64 = 0
    public var transactionsAborted: Int64 = 0
    public var fencedPartitions: Int64 = 0
    /// The latest Kafka client error and how long ago it was seen (librdkafka keeps retrying;
    /// "" when none in the last 10 s).
    public var kafkaError: String = ""
    public var kafkaErrorMsAgo: Int64 = 0
    public var eventsPerSecond: Double = 0
    public var labelled: Int64 = 0
    /// Whole-run progressive accuracy and mean loss (log loss, cross-entropy or MSE).
    public var accuracy: Double = 0
    public var logLoss: Double = 0
    /// Progressive validation: the sufficient statistics (merged cluster-wide by the
    /// coordinator) and the figures they give, whole run and rolling window.
    public var evaluation: EvaluationReport?
    public var metrics: [String: Double] = [:]
    public var windowMetrics: [String: Double] = [:]
    /// Wall-clock ms of the latest drift detection (0: none).
    public var lastDriftWallMs: Int64 = 0
    public var modelVersion: Int = 0
    /// How long ago this worker adopted `modelVersion` (ms).
    public var modelAgeMs: Int64 = 0
    public var inFlight: Int = 0
    /// Wall-clock ms of the first and the latest record processed (exact rates for benchmarks).
    public var firstRecordWallMs: Int64 = 0
    public var lastRecordWallMs: Int64 = 0
    public var partitions: [PartitionReport] = []
    /// Several models (issue 11): each one's progressive validation and how many of its
    /// predictions went to the output topic. Empty with one model (`evaluation` is its).
    public var models: [ModelReport] = []
    /// Shadow predictions written (`lifecycle.shadow_topic`) and those whose delivery failed.
    public var shadowPredictions: Int64 = 0
    public var shadowFailed: Int64 = 0
    public init(workerId: String) { self.workerId = workerId }
}

/// One model's figures on one worker (or, in `ClusterStatus`, merged over workers).
public struct ModelReport: Sendable, Codable, Equatable {
    public var name: String
    public var evaluation: EvaluationReport
    /// Predictions of this model written to the output topic (champion, or A/B share).
    public var served: Int64
    public init(name: String, evaluation: EvaluationReport, served: Int64) {
        self.name = name
        self.evaluation = evaluation
        self.served = served
    }
}

/// A model in the cluster's status: its role and figures merged over workers.
public struct ModelStatus: Sendable, Codable, Equatable {
    public var name: String
    public var champion: Bool
    public var abShare: Double
    public var features: Int
    public var labelled: Int64 = 0
    public var served: Int64 = 0
    public var metrics: [String: Double] = [:]
    public var windowMetrics: [String: Double] = [:]
    public init(name: String, champion: Bool, abShare: Double, features: Int) {
        self.name = name
        self.champion = champion
        self.abShare = abShare
        self.features = features
    }
}

public enum MemberState: String, Sendable, Codable, Equatable {
    case joining, up, leaving, suspect, dead
}

public struct WorkerStatus: Sendable, Codable, Equatable {
    public var workerId: String
    public var host: String
    public var pid: Int32
    public var state: MemberState
    public var partitions: [PartitionLease]
    public var lastHeartbeatMsAgo: Int64
    public var report: WorkerReport?
    public init(workerId: String, host: String, pid: Int32, state: MemberState, partitions: [PartitionLease],
                lastHeartbeatMsAgo: Int64, report: WorkerReport?) {
        self.workerId = workerId
        self.host = host
        self.pid = pid
        self.state = state
        self.partitions = partitions
        self.lastHeartbeatMsAgo = lastHeartbeatMsAgo
        self.report = report
    }
}

public struct ClusterStatus: Sendable, Codable, Equatable {
    public var cluster: String
    public var bootstrap: String
    public var inputTopic: String
    public var outputTopic: String
    public var deadLetterTopic: String
    /// `features.key`: the field the input's records should be keyed by (`produce` keys so).
    public var keyField = "user"
    public var partitionCount: Int
    public var unassigned: [Int32]
    public var workers: [WorkerStatus]
    public var uptimeMs: Int64
    public var modelVersion: Int = 0
    /// Bytes of model deltas received plus updates sent, per second (last interval).
    public var syncBytesPerSecond: Double = 0
    public var rejectedDeltas: Int = 0
    public var clippedDeltas: Int = 0
    /// Deltas whose scaler moments were left out of the merge (outside the robust bounds).
    public var rejectedScalers: Int = 0
    /// Control messages (status requests excluded) the coordinator acted on, and those it
    /// dropped as malformed: together, every message it received.
    public var messagesHandled: Int = 0
    public var messagesDropped: Int = 0
    /// CURVE on: connections refused (unknown key) and messages refused (a status key asking
    /// for more than status). Refused messages are counted here, not in the two above.
    public var curve = false
    public var connectionsRefused: Int = 0
    public var messagesForbidden: Int = 0
    /// Cluster-wide progressive validation: every worker's statistics merged.
    public var task: String = ""
    public var metrics: [String: Double] = [:]
    public var windowMetrics: [String: Double] = [:]
    public var driftDetections = 0
    /// Several models: each one side by side (champion first), and the lifecycle's decisions
    /// (promotions, deploys, retirements), newest last.
    public var models: [ModelStatus] = []
    public var lifecycleLog: [String] = []
    public init(cluster: String, bootstrap: String, inputTopic: String, outputTopic: String, deadLetterTopic: String,
                partitionCount: Int, unassigned: [Int32], workers: [WorkerStatus], uptimeMs: Int64) {
        self.cluster = cluster
        self.bootstrap = bootstrap
        self.inputTopic = inputTopic
        self.outputTopic = outputTopic
        self.deadLetterTopic = deadLetterTopic
        self.partitionCount = partitionCount
        self.unassigned = unassigned
        self.workers = workers
        self.uptimeMs = uptimeMs
    }

    // Totals over live workers.
    public var totalProcessed: Int64 { workers.compactMap(\.report).reduce(0) { $0 + $1.processed } }
    public var totalEventsPerSecond: Double { workers.compactMap(\.report).reduce(0) { $0 + $1.eventsPerSecond } }
    public var totalDeadLetters: Int64 { workers.compactMap(\.report).reduce(0) { $0 + $1.deadLetters } }
    /// Label-weighted accuracy over workers.
    public var accuracy: Double {
        let r = workers.compactMap(\.report)
        let n = r.reduce(0) { $0 + $1.labelled }
        return n > 0 ? r.reduce(0) { $0 + $1.accuracy * Double($1.labelled) } / Double(n) : 0
    }

    /// Fills the cluster-wide figures from the workers' reports.
    public mutating func mergeEvaluations() {
        var merged: EvaluationReport?
        for case let e? in workers.map({ $0.report?.evaluation }) {
            if merged == nil { merged = e } else { merged!.merge(e) }
        }
        guard let m = merged else { return }
        task = m.whole.task.rawValue
        metrics = m.whole.summary
        windowMetrics = m.window.summary
        driftDetections = m.driftDetections
    }
}
