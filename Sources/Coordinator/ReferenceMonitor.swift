import Models
import Wire

/// The N-vs-1 monitor (`[model] reference_sample`), pure: one single-learner copy of the
/// champion's model learns the workers' sampled labelled inputs in the order they arrive,
/// predicting each before learning it (progressive validation), while the prediction the
/// cluster's model gave the same input is scored beside it. A cluster whose averaging works
/// stays close to (or ahead of) the one learner; a gap beyond `warnGap` in mean loss says
/// averaging costs this cluster accuracy (too few merges for the stream, a merge rule that
/// does not suit it, a worker pulling the model away). Time comes in with every call.
public struct ReferenceMonitor: Sendable {
    public let warnGap: Double
    /// No warning before this many samples (the early losses of both are mostly noise).
    public let minSamples: Int
    private var model: OnlineModel
    private let dense: Int
    private let hashed: Int
    private var cluster: Evaluation
    private var reference: Evaluation
    public private(set) var refused = 0
    private var lastWarning: Int64 = Int64.min / 2

    public init(spec: ModelSpec, dense: Int, hashed: Int, warnGap: Double, minSamples: Int = 200) {
        var plain = spec
        plain.pretrained = nil
        model = plain.makeModel(dense: dense, hashed: hashed)
        self.dense = dense
        self.hashed = hashed
        self.warnGap = warnGap
        self.minSamples = minSamples
        cluster = spec.makeEvaluation()
        reference = spec.makeEvaluation()
    }

    public var samples: Int { Int(cluster.report.whole.count) }

    /// Takes a delta's samples in order. Returns a warning when the gap is beyond `warnGap`
    /// (at most once a minute).
    public mutating func observe(_ batch: [ReferenceSample], dropped: Int = 0, now: Int64) -> String? {
        refused += dropped
        let outputs = model.output.count
        for s in batch {
            let indices = s.i ?? [], values = s.v ?? []
            guard s.x.count == dense, indices.count == values.count, indices.allSatisfy({ Int($0) >= dense && Int($0) < dense + hashed }),
                  s.o.count == outputs, s.y.isFinite, s.x.allSatisfy(\.isFinite), values.allSatisfy(\.isFinite), s.o.allSatisfy(\.isFinite),
                  model.model.kind != .softmaxRegression || (s.y >= 0 && Int(s.y) < outputs && s.y == s.y.rounded())
            else {
                refused += 1
                continue
            }
            _ = cluster.observe(model.model.kind.observation(s.o, label: s.y))
            model.predictThenLearn(s.x, sparse: SparseInput(indices: indices.map { Int($0) }, values: values), label: s.y)
            _ = reference.observe(model.model.kind.observation(model.output, label: s.y))
        }
        let r = report
        guard r.samples >= minSamples, r.gap > warnGap, now - lastWarning >= 60_000 else { return nil }
        lastWarning = now
        return "the cluster's model trails a single learner on \(r.samples) sampled events: mean loss \(r.clusterLoss) against \(r.referenceLoss) (gap \(r.gap) > reference_warn \(warnGap)); averaging may be merging too rarely for this stream (sync_every_samples) or a worker may be pulling the model away"
    }

    public var report: ReferenceReport {
        let c = cluster.report.whole, r = reference.report.whole
        let classifies = model.model.kind != .linearRegression
        return ReferenceReport(samples: Int(c.count), clusterLoss: c.meanLoss, referenceLoss: r.meanLoss,
                               clusterAccuracy: classifies ? c.accuracy : nil, referenceAccuracy: classifies ? r.accuracy : nil,
                               refused: refused, warnGap: warnGap)
    }
}
