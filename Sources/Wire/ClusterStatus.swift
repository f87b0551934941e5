import Foundation
import Config
import Models

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
    /// Combined deltas received from each relay (`tributary relay`); nil: none.
    public var relays: [String: Int]?
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
    /// Why the newest merged version is not checkpointed yet (it is retried; workers keep
    /// scoring with the last version); "" when checkpoints are written.
    public var checkpointProblem: String = ""
    /// The quality over time, oldest first, when the request asked for it.
    public var history: [QualitySample]?
    /// The N-vs-1 monitor (`[model] reference_sample`); nil when off.
    public var reference: ReferenceReport?
    /// With an election (issue 23): "active" or "standby", this coordinator's epoch (active)
    /// or the active one's (standby), and the active one's address (standby).
    public var role: String?
    public var leaderEpoch: Int64?
    public var activeCoordinator: String?
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
