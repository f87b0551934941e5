import Foundation
import Testing
@testable import Coordinator
@testable import Worker
import Config
import Features
import Models
import Wire

/// The N-vs-1 monitor (`[model] reference_sample`): what workers sample, how it travels, and
/// what the coordinator's single learner makes of it.
@Suite("N-vs-1 reference monitor")
struct ReferenceMonitorTests {
    /// A clean separable stream: y = 1 when x0 + x1 > 1.
    static func stream(_ n: Int) -> [(x: [Double], y: Double)] {
        var rng = SplitMix64(seed: 7)
        return (0..<n).map { _ in
            let x = [rng.nextDouble(), rng.nextDouble()]
            return (x, x[0] + x[1] > 1 ? 1 : 0)
        }
    }

    @Test("a cluster that predicts 0.5 every time trails the single learner: its loss is log 2, the learner's lower, and the gap warns once a minute")
    func warnsOnGap() throws {
        var spec = ModelSpec()
        spec.optimizer.learningRate = 0.5
        var m = ReferenceMonitor(spec: spec, dense: 2, hashed: 0, warnGap: 0.05)
        let samples = Self.stream(1000).map { ReferenceSample(dense: $0.x, label: $0.y, output: [0.5]) }
        #expect(m.observe(Array(samples[..<100]), now: 0) == nil, "no warning before 200 samples")
        let warning = m.observe(Array(samples[100...]), now: 1)
        #expect(warning?.contains("trails a single learner on 1000 sampled events") == true, "\(warning ?? "none")")
        let r = m.report
        #expect(r.samples == 1000 && r.refused == 0)
        #expect(abs(r.clusterLoss - log(2.0)) < 1e-12)
        #expect(r.referenceLoss < 0.4 && (r.referenceAccuracy ?? 0) > 0.9, "\(r)")
        #expect(m.observe(Array(samples[..<10]), now: 30_000) == nil, "at most one warning a minute")
        #expect(m.observe(Array(samples[..<10]), now: 61_001) != nil)
    }

    @Test("the learner is the configured model learning progressively: on the samples it scores exactly as one worker on the same events")
    func equalsOneLearner() {
        let spec = ModelSpec()
        var one = spec.makeModel(dense: 2, hashed: 0)
        var evaluation = spec.makeEvaluation()
        var m = ReferenceMonitor(spec: spec, dense: 2, hashed: 0, warnGap: 1)
        var batch: [ReferenceSample] = []
        for e in Self.stream(500) {
            one.predictThenLearn(e.x, label: e.y)
            _ = evaluation.observe(.binary(probability: one.output[0], label: e.y))
            // The cluster here is that same learner: its outputs are the samples' predictions.
            batch.append(ReferenceSample(dense: e.x, label: e.y, output: one.output))
        }
        _ = m.observe(batch, now: 0)
        let r = m.report
        #expect(r.clusterLoss == evaluation.report.whole.meanLoss && r.referenceLoss == evaluation.report.whole.meanLoss)
        #expect(r.gap == 0)
    }

    @Test("malformed samples are refused and counted, never learnt: wrong width, hashed index outside the model, NaN, wrong output count")
    func refusesMalformed() {
        var m = ReferenceMonitor(spec: ModelSpec(), dense: 2, hashed: 4, warnGap: 1)
        _ = m.observe([
            ReferenceSample(dense: [1], label: 1, output: [0.5]),
            ReferenceSample(dense: [1, 2], indices: [9], values: [1], label: 1, output: [0.5]),
            ReferenceSample(dense: [1, .nan], label: 1, output: [0.5]),
            ReferenceSample(dense: [1, 2], label: 1, output: [0.5, 0.5]),
            ReferenceSample(dense: [1, 2], indices: [3], values: [1], label: 1, output: [0.5]),
        ], dropped: 2, now: 0)
        #expect(m.report.samples == 1 && m.report.refused == 6)
    }

    @Test("workers sample by key hash (the same keys every time, about the share), keep at most 500 a delta, and the samples travel in the delta's head, dense or sparse")
    func workerSampling() throws {
        let config = try ClusterConfig.parse("[model]\nreference_sample = 0.25\nreference_warn = 0.1")
        #expect(config.model.referenceSample == 0.25 && config.model.referenceWarn == 0.1)
        var set = ModelSet(layout: config.layout, features: config.features)
        #expect(set.referenceShare == 0.25)
        let dense = [Double](repeating: 0.5, count: FeaturePipeline(spec: config.features, labelClasses: []).denseWidth)
        var kept = Set<String>()
        for k in 0..<400 {
            let before = set.referenceSamples.count
            set.sampleReference(key: "user\(k)", dense: dense, sparse: .empty, label: 1, output: [0.7])
            if set.referenceSamples.count > before { kept.insert("user\(k)") }
        }
        #expect(kept.count > 70 && kept.count < 130, "\(kept.count) of 400 keys")
        #expect(kept.allSatisfy { ModelSet.unitHash($0) < 0.25 })
        let taken = set.takeReference().samples ?? []
        #expect(taken.count == kept.count && set.referenceSamples.isEmpty && taken[0].o == [0.7])
        for _ in 0..<600 { set.sampleReference(key: kept.first!, dense: dense, sparse: .empty, label: 0, output: [0.1]) }
        #expect(set.referenceSamples.count == ReferenceSample.perDelta && set.referenceDropped == 100)
        #expect(set.takeReference().dropped == 100 && set.referenceDropped == 0)

        var d = ModelDelta(workerId: "w", seq: 1, baseVersion: 0, samples: 2, delta: [0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        d.reference = [ReferenceSample(dense: [1, 2], indices: [5], values: [0.5], label: 1, output: [0.25])]
        d.referenceDropped = 3
        for delta in [d.delta, (0..<10).map(Double.init)] {
            d.delta = delta
            guard case .modelDelta(let back) = try WireCodec.decode(WireCodec.encode(.modelDelta(d))[...]) else {
                Issue.record("not a delta")
                continue
            }
            #expect(back.reference == d.reference && back.referenceDropped == 3)
        }
        var off = try ClusterConfig.parse("")
        #expect(ModelSet(layout: off.layout, features: off.features).referenceShare == 0)
        off = try ClusterConfig.parse("[model]\nreference_sample = 0.5\nmode = \"learn\"")
        #expect(off.model.referenceSample == 0.5)
    }
}
