/// One partition's feature path without a model: parse, compute the features, then let the
/// label into the target encodings. The worker's per-record steps minus scoring, for tools
/// (`tributary bench-restore`, `tributary replay`) and tests.
public struct PartitionFeatures: Sendable {
    public let pipeline: FeaturePipeline
    public var state: PartitionState
    public var counters = FeatureCounters()
    public private(set) var dense: [Double]
    public private(set) var sparse = SparseVector()
    private var event: ParsedEvent

    /// The latest event's label (nil: unlabelled).
    public var label: Double? { event.label }

    /// - labelClasses: softmax's class names, so a label may be a name (as the worker parses).
    public init(spec: FeatureSpec, labelClasses: [String] = []) {
        pipeline = FeaturePipeline(spec: spec, labelClasses: labelClasses)
        state = pipeline.makeState()
        dense = .init(repeating: 0, count: pipeline.denseWidth)
        event = pipeline.parser.makeEvent()
    }

    /// - kafkaTimestampMs: the record's Kafka timestamp, the event time under `timestamp = "@kafka"`.
    @discardableResult
    public mutating func feed(_ bytes: [UInt8], kafkaTimestampMs: Int64 = -1) throws(EventError) -> FeatureOutcome {
        try pipeline.parser.parse(bytes, into: &event)
        pipeline.applyKafkaTimestamp(kafkaTimestampMs, to: &event)
        return try derive()
    }

    /// `feed` for bytes still in a consumed Kafka message (no copy).
    @discardableResult
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, kafkaTimestampMs: Int64 = -1) throws(EventError) -> FeatureOutcome {
        try pipeline.parser.parse(bytes, into: &event)
        pipeline.applyKafkaTimestamp(kafkaTimestampMs, to: &event)
        return try derive()
    }

    private mutating func derive() throws(EventError) -> FeatureOutcome {
        let out = try pipeline.features(of: event, state: &state, counters: &counters, dense: &dense, sparse: &sparse)
        if out == .features { pipeline.learnTargets(of: event, state: &state) }
        return out
    }
}
