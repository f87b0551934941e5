import Foundation
import Config
import Models

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
    /// Records the Kafka consumer delivered again within one run of their partition (below
    /// the next offset expected): skipped, as they were processed already. Logged and shown.
    public var redeliveredOffsets: Int64 = 0
    /// Records whose Kafka key is not their `features.key` value (null keys included): their
    /// key's state may be split across partitions (docs/CONFIG.md, "Keys").
    public var keyMismatches: Int64 = 0
    /// `features.repartition`: input records re-keyed into the repartition topic.
    public var repartitioned: Int64 = 0
    /// `[labels]`: the delayed-label join (nil without a labels topic).
    public var labels: LabelStats?
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
    /// A version sent as a difference from one this worker does not hold (a lost or skipped
    /// message): the coordinator answers with the current version whole.
    public var modelMissed: Int?
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
