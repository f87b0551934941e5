import Features

/// `[labels]`: labels that arrive after their events, on a topic of their own (docs/CONFIG.md).
public struct LabelsSection: Sendable, Codable, Equatable {
    /// The label stream; "" = labels only inside events (as without this section).
    public var topic = ""
    /// Dotted path of the event id, in the event and in its label record.
    public var id = "id"
    /// Dotted path of the label in a label record.
    public var label = "y"
    /// Event time of a label record, in `timestampUnit` ("" = the record's Kafka timestamp).
    public var timestamp = "ts"
    public var timestampUnit = FeatureSpec.TimestampUnit.seconds
    /// How long a served prediction waits for its label, in event time.
    public var horizonSeconds = 3600.0
    /// Predictions waiting for labels, per worker: beyond it the oldest expire early (counted).
    public var maxPending = 100_000
    public enum Expired: String, Sendable, Codable, Equatable, CaseIterable {
        /// Counted, not learnt.
        case drop
        /// Learnt as class 0 (no click, no chargeback), as click and fraud systems do.
        case learnNegative = "learn_negative"
    }
    public var onExpired = Expired.drop
    public enum Late: String, Sendable, Codable, Equatable, CaseIterable {
        /// Counted, not learnt.
        case drop
        /// Learnt from the expired prediction's inputs, kept for it (as many as `maxPending`).
        case learn
    }
    /// A label that comes after its prediction expired.
    public var lateLabels = Late.drop

    public var enabled: Bool { !topic.isEmpty }
    public init() {}
}
