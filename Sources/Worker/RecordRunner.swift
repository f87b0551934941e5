import Features
import Models
#if canImport(Glibc)
import Glibc
#endif

/// The per-record pipeline, pure: parse → features (updating the partition's per-key state)
/// → every model predicts, then learns if labelled → what the record's output is (a
/// prediction of the served model, a dead letter with its reason, or nothing for a late
/// record). Its buffers (event, dense and hashed features) are reused across records. The
/// worker writes what it says; the bench and tests drive it directly.
public struct RecordRunner: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// Scored: the output topic gets model `served`'s prediction. `drift`: the running
        /// loss just crossed the Page-Hinkley threshold.
        case scored(served: Int, drift: Bool)
        case deadLetter(reason: String, error: String)
        /// Behind the partition's watermark: dead-lettered, or dropped (counted, no output).
        case late(deadLetter: Bool)
    }

    public let pipeline: FeaturePipeline
    public private(set) var event: ParsedEvent
    /// The dense features of the latest record (before scaling), and its hashed ones.
    public private(set) var features: [Double]
    public private(set) var sparse = SparseVector()
    public var counters = FeatureCounters()
    /// Whether the latest record's Kafka key was its key field's value.
    public private(set) var keyed = true

    public init(pipeline: FeaturePipeline) {
        self.pipeline = pipeline
        event = pipeline.parser.makeEvent()
        features = .init(repeating: 0, count: pipeline.denseWidth)
    }

    /// Runs one record. `evaluation` is progressive validation of the served model; `learnt`
    /// is told when a labelled record trained the models (it counts toward the next delta).
    @inline(__always)
    public mutating func run(value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, kafkaTimestampMs: Int64,
                             state: inout PartitionState, models: inout ModelSet, evaluation: inout Evaluation,
                             learnt: () -> Void) -> Outcome {
        if let failed = parse(value: value, key: key, kafkaTimestampMs: kafkaTimestampMs) { return failed }
        return score(state: &state, models: &models, evaluation: &evaluation, learnt: learnt)
    }

    /// The first half of `run`: parses the record into `event` (its time is then known, for
    /// what must happen before it is scored). Returns its dead letter, or nil when parsed.
    @inline(__always)
    public mutating func parse(value: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, kafkaTimestampMs: Int64) -> Outcome? {
        do {
            try pipeline.parser.parse(value, into: &event)
        } catch {
            return .deadLetter(reason: error.reason, error: error.description)
        }
        pipeline.applyKafkaTimestamp(kafkaTimestampMs, to: &event)
        keyed = event.key.utf8.withContiguousStorageIfAvailable { k in
            k.count == key.count && (k.count == 0 || memcmp(k.baseAddress!, key.baseAddress!, k.count) == 0)
        } ?? event.key.utf8.elementsEqual(key)
        return nil
    }

    /// The second half of `run`, on the event `parse` left: features, scores, learning.
    @inline(__always)
    public mutating func score(state: inout PartitionState, models: inout ModelSet, evaluation: inout Evaluation,
                               learnt: () -> Void) -> Outcome {
        let outcome: FeatureOutcome
        do {
            outcome = try pipeline.features(of: event, state: &state, counters: &counters, dense: &features, sparse: &sparse)
        } catch {
            return .deadLetter(reason: error.reason, error: error.description)
        }
        if case .late(let toDeadLetters) = outcome { return .late(deadLetter: toDeadLetters) }
        if models.readsEvents {
            models.score(features, sparse: SparseInput(indices: sparse.indices, values: sparse.values), label: event.label,
                         event: event, textSlots: pipeline.textSlots)
        } else {
            models.score(features, sparse: SparseInput(indices: sparse.indices, values: sparse.values), label: event.label)
        }
        // The output topic gets the champion's prediction, or an A/B challenger's for its keys.
        let served = models.route(key: event.key)
        pipeline.learnTargets(of: event, state: &state)
        var drift = false
        if let y = event.label {
            drift = evaluation.observe(models.observation(of: served, label: y))
            models.observeAll(label: y)
            if models.learns { learnt() }
            if models.referenceShare > 0 {
                models.sampleReference(key: event.key, dense: features, sparse: SparseInput(indices: sparse.indices, values: sparse.values),
                                       label: y, output: models.championModel.output)
            }
        }
        return .scored(served: served, drift: drift)
    }

    /// Why a late record is behind, for its dead letter.
    public func lateReason(_ state: PartitionState) -> String {
        "event time \(event.timestamp ?? 0) is behind the partition's watermark (stream time \(state.streamTime) minus allowed lateness)"
    }
}
