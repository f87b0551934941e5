import Foundation
import Config
import Coordinator
import Features
import Models
import Wire
import Worker

/// Averaging replayed deterministically in process (issue 28): `workers` simulated workers,
/// each with its partitions' feature state, its models and its sync session, learn a stream
/// in order; every `syncEvery` events each one's delta goes through the real encoder
/// (compressed as configured), the real `ModelAggregator`, and the new version back through
/// the real rebase. No clocks, no sockets: the same input gives the same figures, so a
/// compression's cost in accuracy is measured, not guessed through run-to-run noise.
struct AveragingSimulation {
    struct Result: Codable {
        var dataset: String
        var workers: Int
        var compression: String
        var merge: String
        var events: Int
        var accuracy: Double
        var logLoss: Double
        var rounds: Int
        /// Mean bytes of a delta's parameter frames (what crosses the network per worker per sync).
        var deltaBytes: Double
    }

    struct Worker {
        var runner: RecordRunner
        var state: PartitionState
        var models: ModelSet
        var evaluation: Evaluation
        var session = WorkerSession(now: 0)

        mutating func feed(_ line: String, key: String) {
            var value = line, key = key
            var learnt = 0
            _ = value.withUTF8 { v in
                key.withUTF8 { k in
                    runner.run(value: UnsafeRawBufferPointer(v), key: UnsafeRawBufferPointer(k), kafkaTimestampMs: 0,
                               state: &state, models: &models, evaluation: &evaluation) { learnt += 1 }
                }
            }
            session.learnt(learnt)
        }

        mutating func adopt(_ u: ModelUpdate, features: FeatureSpec, name: String) throws {
            _ = try models.adopt(u, features: features, session: &session, worker: name)
        }
    }

    /// `lines`: River's stream as `tools/river_reference.py` writes it (user, x, y).
    static func run(dataset: String, lines: [String], features: [String], workers: Int, partitions: Int, syncEvery: Int,
                    compression: DeltaCompression, merge: MergeRule) throws -> Result {
        let config = try ClusterConfig.parse("""
        [kafka]
        partitions = \(partitions)
        [features]
        key = "user"
        timestamp = ""
        label = "y"
        numeric = [\(features.map { "\"\($0)\"" }.joined(separator: ", "))]
        aggregates = []
        [model]
        learning_rate = 0.01
        merge = "\(merge.rawValue)"
        delta_compression = "\(compression.rawValue)"
        """)
        let pipeline = FeaturePipeline(spec: config.features, labelClasses: [])
        var ws: [Worker] = (0..<workers).map { _ in
            Worker(runner: RecordRunner(pipeline: pipeline), state: pipeline.makeState(),
                   models: ModelSet(layout: config.layout, features: config.features), evaluation: config.model.makeEvaluation())
        }
        for i in ws.indices { ws[i].session.resetSync(version: 0, base: ws[i].models.parameters + ws[i].models.scalerMoments) }
        var agg = ModelAggregator(parameterCount: ws[0].models.geometry.parameterCount, syncIntervalMs: 1, now: 0,
                                  robust: RobustPolicy(mode: .init(rawValue: config.model.robustAveraging) ?? .clip,
                                                       factor: config.model.robustFactor),
                                  rule: config.model.mergeRule)
        var rounds = 0, deltas = 0, deltaBytes = 0
        func sync() throws {
            for i in ws.indices {
                let m = ws[i].models
                guard let d = ws[i].session.makeDelta(parameters: m.parameters, scalerMoments: m.scalerMoments,
                                                      worker: "w\(i)", now: 0, compression: compression) else { continue }
                let frames = WireCodec.encode(.modelDelta(d))
                deltaBytes += frames.dropFirst(2).reduce(0) { $0 + $1.count }
                deltas += 1
                guard case .modelDelta(let got) = try WireCodec.decode(frames[...]) else { continue }
                _ = agg.receive(got)
            }
            rounds += 1
            for directive in agg.tick(now: Int64(rounds)) {
                guard case .publish(let u) = directive,
                      case .modelUpdate(let back) = try WireCodec.decode(WireCodec.encode(.modelUpdate(u))[...]) else { continue }
                for i in ws.indices { try ws[i].adopt(back, features: config.features, name: "w\(i)") }
            }
        }
        for (n, line) in lines.enumerated() {
            // Keys u0, u1, ... round-robin (the tool's --keys): partition by key, worker by partition.
            let user = line.range(of: "\"user\": \"u").flatMap { r in Int(line[r.upperBound...].prefix { $0.isNumber }) } ?? 0
            let w = (user % partitions) % workers
            ws[w].feed(line, key: "u\(user)")
            if workers > 1 && (n + 1) % syncEvery == 0 { try sync() }
        }
        var whole = ws[0].evaluation.report.whole
        for w in ws.dropFirst() { whole.merge(w.evaluation.report.whole) }
        return Result(dataset: dataset, workers: workers, compression: compression.rawValue, merge: merge.rawValue, events: lines.count,
                      accuracy: whole.accuracy, logLoss: whole.meanLoss, rounds: rounds,
                      deltaBytes: deltas > 0 ? Double(deltaBytes) / Double(deltas) : 0)
    }
}
