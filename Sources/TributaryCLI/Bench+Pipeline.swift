import Dispatch
import Config
import Features
import Models
import Worker

extension Bench {
    /// The per-record work of a job (as the Tributary runs use it), in process: the same
    /// records, one partition state (every key), the best of 3 passes over fresh state and
    /// models so a pass is neither warmed by the previous one's keys nor slowed by a
    /// first-touch page fault alone.
    func pipelineCost(job: String, config: ClusterConfig, records: [(key: String, value: [UInt8])]) -> PipelineCost {
        let n = max(records.count, 1)
        let pipeline = FeaturePipeline(spec: config.features, labelClasses: [])
        var best = (runner: Double.infinity, output: Double.infinity)
        var accuracy = 0.0
        for _ in 0..<3 {
            var runner = RecordRunner(pipeline: pipeline)
            var state = pipeline.makeState()
            var models = ModelSet(layout: config.layout, features: config.features)
            var evaluation = config.model.makeEvaluation()
            var writer = OutputWriter()
            var learnt = 0
            var outcomes = [RecordRunner.Outcome]()
            outcomes.reserveCapacity(n)
            let t0 = DispatchTime.now().uptimeNanoseconds
            for r in records {
                let o = r.value.withUnsafeBytes { v in
                    var k = r.key
                    return k.withUTF8 { key in
                        runner.run(value: v, key: UnsafeRawBufferPointer(key), kafkaTimestampMs: 0, state: &state,
                                   models: &models, evaluation: &evaluation) { learnt += 1 }
                    }
                }
                outcomes.append(o)
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            // The prediction record of every scored event, as the worker writes it (the
            // runner's last event stands in for each: the bytes' cost, not their content).
            let model = models.models[0]
            for (i, o) in outcomes.enumerated() {
                guard case .scored = o else { continue }
                writer.prediction(partition: 0, offset: Int64(i), key: runner.event.key, score: model.score, label: runner.event.label,
                                  model: "main", modelVersion: 1, worker: "bench", epoch: 1,
                                  timestamp: runner.event.timestamp, features: nil, classes: nil,
                                  predicted: model.predictedClass, probabilities: model.output)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            best.runner = min(best.runner, Double(t1 - t0) / Double(n))
            best.output = min(best.output, Double(t2 - t1) / Double(n))
            accuracy = evaluation.report.whole.accuracy
            precondition(learnt > 0 && writer.bytes.count > 0)
        }
        return PipelineCost(job: job, events: records.count, runnerNs: best.runner, outputNs: best.output, accuracy: accuracy)
    }
}
