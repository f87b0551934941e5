import ArgumentParser
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
        /// How versions went back (`VersionBroadcast`), and the mean bytes of a version's
        /// parameter frames.
        var versionCompression: String?
        var versionBytes: Double?
        var seed: UInt64?
        var serverStep: ServerStep?
        var syncSamples: Int?
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
            guard let whole = session.expand(u) else { throw ValidationError("\(name) cannot apply version \(u.version)'s difference") }
            _ = try models.adopt(whole, features: features, session: &session, worker: name)
        }
    }

    /// How the replay interleaves and syncs.
    struct Schedule {
        /// Every this many events of the stream each worker sends its delta and the round merges
        /// (time-based sync, one round per interval); unused when `syncSamples` > 0.
        var syncEvery = 50
        /// `sync_every_samples`: a worker sends when it has learnt this many samples and has no
        /// delta in flight, and the coordinator merges what is pending whenever no version is
        /// in flight.
        var syncSamples = 0
        /// nil: the stream's own order. A seed: partitions are read in batches of 1...`maxBatch`
        /// events, the next partition drawn at random (as a consumer's fetches arrive). A seed
        /// gives the same event order for any number of workers, so the worker counts differ
        /// only in how the model is shared.
        var seed: UInt64?
        var maxBatch = 16
        /// Events read between a merge and its version reaching the workers (0: at once).
        var latency = 0
        var merge = MergeRule.average
        var server = ServerStep()
        var compression = DeltaCompression.none
        var versionCompression = DeltaCompression.none
    }

    /// `lines`: River's stream as `tools/river_reference.py` writes it (user, x, y).
    static func run(dataset: String, lines: [String], features: [String], workers: Int, partitions: Int, schedule: Schedule) throws -> Result {
        let compression = schedule.compression, merge = schedule.merge
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
        var agg = ModelAggregator(parameterCount: ws[0].models.geometry.parameterCount,
                                  syncIntervalMs: schedule.syncSamples > 0 ? 0 : 1, eager: schedule.syncSamples > 0, now: 0,
                                  robust: RobustPolicy(mode: .init(rawValue: config.model.robustAveraging) ?? .clip,
                                                       factor: config.model.robustFactor),
                                  rule: config.model.mergeRule, server: schedule.server)
        var rounds = 0, deltas = 0, deltaBytes = 0, versionBytes = 0
        // Every worker holds every version, so each gets the difference when one is made.
        var broadcast = VersionBroadcast(compression: schedule.versionCompression)
        func send(_ i: Int) throws {
            let m = ws[i].models
            guard let d = ws[i].session.makeDelta(parameters: m.parameters, scalerMoments: m.scalerMoments,
                                                  worker: "w\(i)", now: 0, compression: compression) else { return }
            let frames = WireCodec.encode(.modelDelta(d))
            deltaBytes += frames.dropFirst(2).reduce(0) { $0 + $1.count }
            deltas += 1
            guard case .modelDelta(let got) = try WireCodec.decode(frames[...]) else { return }
            _ = agg.receive(got)
        }
        // A version in flight (checkpoint, then broadcast): it reaches the workers `latency`
        // events later, and the coordinator merges again only then (as it waits for the
        // checkpoint's delivery report).
        var inFlight: (due: Int, update: ModelUpdate)?
        func deliver(at n: Int) throws {
            guard let f = inFlight, f.due <= n else { return }
            inFlight = nil
            for i in ws.indices { try ws[i].adopt(f.update, features: config.features, name: "w\(i)") }
        }
        func close(at n: Int) throws {
            guard inFlight == nil else { return }
            for directive in agg.tick(now: Int64(rounds + 1)) {
                guard case .publish(let u) = directive else { continue }
                let (whole, diff) = broadcast.next(u)
                let frames = WireCodec.encode(.modelUpdate(diff ?? whole))
                versionBytes += frames.dropFirst(2).reduce(0) { $0 + $1.count }
                guard case .modelUpdate(let back) = try WireCodec.decode(frames[...]) else { continue }
                rounds += 1
                inFlight = (n + schedule.latency, back)
                try deliver(at: n)
            }
        }
        // Keys u0, u1, ... round-robin (the tool's --keys): partition by key, worker by partition.
        var queues = [[(line: String, user: Int)]](repeating: [], count: partitions)
        for line in lines {
            let user = line.range(of: "\"user\": \"u").flatMap { r in Int(line[r.upperBound...].prefix { $0.isNumber }) } ?? 0
            queues[user % partitions].append((line, user))
        }
        var order: [(line: String, user: Int)] = []
        if var rng = schedule.seed.map(SplitMix64.init(seed:)) {
            var next = [Int](repeating: 0, count: partitions)
            while true {
                let open = (0..<partitions).filter { next[$0] < queues[$0].count }
                guard !open.isEmpty else { break }
                let p = open[Int(rng.next() % UInt64(open.count))]
                let n = 1 + Int(rng.next() % UInt64(max(1, schedule.maxBatch)))
                let end = min(queues[p].count, next[p] + n)
                order += queues[p][next[p]..<end]
                next[p] = end
            }
        } else {
            order = lines.map { line in
                (line, line.range(of: "\"user\": \"u").flatMap { r in Int(line[r.upperBound...].prefix { $0.isNumber }) } ?? 0)
            }
        }
        for (n, e) in order.enumerated() {
            let w = (e.user % partitions) % workers
            ws[w].feed(e.line, key: "u\(e.user)")
            guard workers > 1 else { continue }
            try deliver(at: n)
            if schedule.syncSamples > 0 {
                if ws[w].session.sync.samples >= schedule.syncSamples { try send(w) }
                try close(at: n)
            } else if (n + 1) % schedule.syncEvery == 0 {
                for i in ws.indices { try send(i) }
                try close(at: n)
            }
        }
        var whole = ws[0].evaluation.report.whole
        for w in ws.dropFirst() { whole.merge(w.evaluation.report.whole) }
        return Result(dataset: dataset, workers: workers, compression: compression.rawValue, merge: merge.rawValue, events: lines.count,
                      accuracy: whole.accuracy, logLoss: whole.meanLoss, rounds: rounds,
                      deltaBytes: deltas > 0 ? Double(deltaBytes) / Double(deltas) : 0,
                      versionCompression: schedule.versionCompression.rawValue,
                      versionBytes: rounds > 0 ? Double(versionBytes) / Double(rounds) : 0)
    }
}
