import ArgumentParser
import Foundation
import Models

/// Scale without the hardware (issue 28): the coordinator's real decision code, in process,
/// at sizes this machine cannot run as processes.
struct BenchScale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-scale",
        abstract: "Drive the coordinator's real membership and model-merge code in process with many simulated workers: time per decision, partitions moved against the minimum, balance, time per merge round.")
    @Option(help: "Simulated workers of the membership part.") var workers: Int = 1000
    @Option(help: "Input partitions of the membership part.") var partitions: Int = 10_000
    @Option(help: "Share of the workers in each wave of churn (leave, crash, join).") var churn: Double = 0.1
    @Option(help: "Rounds of churn (each: a leave wave, a crash wave, a join wave).") var rounds: Int = 2
    @Option(help: "coordinator.rebalance_delay_ms of the membership part.") var rebalanceDelayMs: Int = 200
    @Option(help: "Simulated workers of the aggregator part, comma-separated.") var aggregatorWorkers: String = "200,1000"
    @Option(help: "Weights of the aggregator part's model.") var weights: Int = 1 << 20
    @Option(help: "Shares of the coordinates a delta touches in the aggregator part, comma-separated (1 = dense).") var touched: String = "1,0.01"
    @Option(help: "Compressions of the aggregator part's dense deltas, comma-separated: none, float16, int8.") var compressions: String = "none,int8"
    @Option(help: "Merge shards of the aggregator part, comma-separated (default: 1 and the cores).") var shards: String = ""
    @Option(help: "Sync rounds per aggregator case.") var aggregatorRounds: Int = 3
    @Option(help: "Workers per host of the aggregator part, comma-separated: above 1, each host's relay combines its workers' deltas (tree aggregation) and the coordinator receives one per host.") var perHost: String = "1,10"
    @Option(help: "Only these parts, comma-separated: membership, aggregator, quality (default: all).") var only: String = "membership,aggregator,quality"
    @Option(help: "River datasets of the quality part (written by tools/river_reference.py), comma-separated.") var datasets: String = "phishing,hyperplane"
    @Option(help: "Events of the quality part's Hyperplane stream.") var hyperplaneEvents: Int = 50_000
    @Option(help: "Workers of the quality part, comma-separated.") var qualityWorkers: String = "2,4"
    @Option(help: "The quality part syncs every this many events of the stream.") var syncEvery: Int = 50
    @Option(help: "Merge rules of the quality part, comma-separated (average, sum); compressions are compared under the first.") var merges: String = "average"
    @Option(help: "Seeds of the quality part: with N > 0, each case runs N times, partitions read in random batches (seeds 1...N), against one worker on the same order.") var seeds: Int = 0
    @Option(help: "sync_every_samples values of the quality part, comma-separated (0: every --sync-every events of the stream).") var syncSamples: String = "0"
    @Option(help: "Events of the quality part's stream read between a merge and its version reaching the workers.") var latency: Int = 0
    @Option(help: "Server steps of the quality part, comma-separated learning_rate:momentum pairs.") var serverSteps: String = "1:0"
    @Option(help: "Where tools/river_reference.py is.") var tools: String = "tools"
    @Option(help: "Write the JSON result here too.") var output: String?

    func runs(_ part: String) -> Bool { only.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == part } }

    func validate() throws {
        for p in only.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !["membership", "aggregator", "quality"].contains(p) {
            throw ValidationError("--only: unknown part '\(p)' (known: membership, aggregator, quality)")
        }
        guard workers >= 1, partitions >= 1 else { throw ValidationError("--workers and --partitions must be at least 1") }
        guard churn > 0, churn < 0.5 else { throw ValidationError("--churn must be above 0 and below 0.5") }
    }

    struct Out: Codable {
        var membership: MembershipLoad.Result?
        var aggregator: [AggregatorLoad.Result] = []
        var quality: [AveragingSimulation.Result] = []
    }

    /// River's stream as JSON lines (and its feature names), from tools/river_reference.py.
    func riverStream(_ name: String) throws -> (lines: [String], features: [String]) {
        let file = NSTemporaryDirectory() + "tributary-bench-scale-\(name)-\(getpid()).jsonl"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", tools + "/river_reference.py", name, file] + (name == "hyperplane" ? ["--n", String(hyperplaneEvents)] : [])
            + ["--keys", "64"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        struct Reference: Decodable { var features: [String] }
        guard p.terminationStatus == 0, let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RESULT ") }) else {
            throw ValidationError("tools/river_reference.py \(name) failed (is River installed? scripts/setup installs it)")
        }
        let features = try JSONDecoder().decode(Reference.self, from: Data(line.dropFirst(7).utf8)).features
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map(String.init)
        return (lines, features)
    }

    static func list<T: LosslessStringConvertible>(_ text: String) -> [T] {
        text.split(separator: ",").compactMap { T(String($0).trimmingCharacters(in: .whitespaces)) }
    }

    func run() throws {
        var out = Out()
        if runs("membership") {
            say("membership: \(workers) workers, \(partitions) partitions, \(rounds) rounds of \(Int(churn * 100)) % churn")
            var load = MembershipLoad(partitions: partitions, rebalanceDelayMs: Int64(rebalanceDelayMs))
            let r = load.run(workers: workers, churn: churn, rounds: rounds)
            say(String(format: "  %d decisions: p50 %.1f µs, p99 %.1f µs, max %.1f µs (heartbeats p99 %.1f µs; decoding one of %d bytes %.1f µs)",
                       r.decisions, r.p50Us, r.p99Us, r.maxUs, r.heartbeatP99Us, r.heartbeatBytes, r.heartbeatDecodeUs))
            for w in r.waves {
                say(String(format: "  %-12@ %5d workers: %6d moves (minimum %6d), balance %d, unassigned %d, settled in %lld ms",
                           w.change as NSString, w.workers, w.moves, w.minimumMoves, w.balance, w.unassigned, w.settledMs))
            }
            out.membership = r
        }
        if runs("aggregator") {
            let cores = ProcessInfo.processInfo.activeProcessorCount
            let shardCounts: [Int] = shards.isEmpty ? Array(Set([1, cores])).sorted() : Self.list(shards)
            say("aggregator: \(weights) weights, sync rounds of every worker's delta (\(cores) cores)")
            for w in Self.list(aggregatorWorkers) as [Int] {
                for t in Self.list(touched) as [Double] {
                    // Dense deltas of many workers are held until the merge: 8 bytes × weights
                    // each (1,000 × 2^20 = 8 GiB).
                    for c in (t >= 1 ? Self.list(compressions) : ["none"]).compactMap(DeltaCompression.init(rawValue:)) {
                    for ph in Self.list(perHost) as [Int] where ph >= 1 {
                    // Behind relays, the coordinator's merge on every core only.
                    for s in ph > 1 ? [shardCounts.max() ?? 1] : shardCounts {
                        let r = AggregatorLoad.run(workers: w, weights: weights, touched: t, compression: c, shards: s, rounds: aggregatorRounds,
                                                   perHost: ph)
                        if let h = r.hostMs { say(String(format: "  %5d workers behind %d relays of %d: one relay's round %.1f ms (on its host)", w, (w + ph - 1) / ph, ph, h)) }
                        say(String(format: "  %5d workers, %@, %d shard%@: receive %8.1f ms, merge %7.1f ms, round %8.1f ms, CPU %8.1f ms; bytes per sender: delta %9d, version %9d whole, %9d as a difference (taken in %.1f ms)",
                                   w, ((t >= 1 ? "dense \(c.rawValue)" : "\(t * 100) % touched") + (ph > 1 ? " via relays" : "")) as NSString, s, (s == 1 ? "" : "s") as NSString,
                                   r.receiveMs, r.mergeMs, r.roundMs, r.cpuMs, r.deltaBytesPerWorker, r.updateBytesPerWorker,
                                   r.diffBytesPerWorker ?? r.updateBytesPerWorker, r.diffMs ?? 0))
                        out.aggregator.append(r)
                    }
                    }
                    }
                }
            }
        }
        if runs("quality") {
            try quality(into: &out)
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        if let data = try? enc.encode(out) {
            say("RESULT " + String(decoding: data, as: UTF8.self))
            if let output { try? data.write(to: URL(fileURLWithPath: output)) }
        }
    }

    func quality(into out: inout Out) throws {
        let rules = merges.split(separator: ",").compactMap { MergeRule(rawValue: String($0).trimmingCharacters(in: .whitespaces)) }
        let steps: [ServerStep] = serverSteps.split(separator: ",").map {
            let f = $0.split(separator: ":").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            return ServerStep(learningRate: f.first ?? 1, momentum: f.count > 1 ? f[1] : 0)
        }
        let samples: [Int] = Self.list(syncSamples)
        let seedList: [UInt64?] = seeds > 0 ? (1...seeds).map { UInt64($0) } : [nil]
        say("quality: averaging replayed in process, 64 keys over 4 partitions"
            + (seeds > 0 ? ", \(seeds) seeded orders (random batches of 1-16 events per partition)" : ", stream order"))
        for name in datasets.split(separator: ",").map(String.init) {
            let (lines, features) = try riverStream(name)
            var ones: [Double] = []
            for seed in seedList {
                var one = try AveragingSimulation.run(dataset: name, lines: lines, features: features, workers: 1, partitions: 4,
                                                      schedule: .init(syncEvery: syncEvery, seed: seed))
                one.seed = seed
                ones.append(one.accuracy)
                out.quality.append(one)
            }
            say(String(format: "  %-10@ 1 worker: accuracy %.4f (min %.4f, max %.4f over %d orders)", name as NSString,
                       ones.reduce(0, +) / Double(ones.count), ones.min()!, ones.max()!, ones.count))
            for (k, rule) in rules.enumerated() {
                for step in steps {
                    for n in samples {
                        for w in Self.list(qualityWorkers) as [Int] {
                            // Deltas compressed each way, then versions as well.
                            let cases: [(DeltaCompression, DeltaCompression)] = k == 0 && seeds == 0 && steps.count == 1
                                ? DeltaCompression.allCases.map { ($0, .none) } + [(.float16, .float16), (.int8, .int8)] : [(.none, .none)]
                            for (c, vc) in cases {
                                var gaps: [Double] = [], rounds = 0, bytes = 0.0, versionBytes = 0.0
                                for (s, seed) in seedList.enumerated() {
                                    var r = try AveragingSimulation.run(
                                        dataset: name, lines: lines, features: features, workers: w, partitions: 4,
                                        schedule: .init(syncEvery: syncEvery, syncSamples: n, seed: seed, latency: latency,
                                                       merge: rule, server: step, compression: c, versionCompression: vc))
                                    r.seed = seed
                                    r.serverStep = step
                                    r.syncSamples = n
                                    gaps.append((r.accuracy - ones[s]) * 100)
                                    rounds += r.rounds
                                    bytes = r.deltaBytes
                                    versionBytes = r.versionBytes ?? 0
                                    out.quality.append(r)
                                }
                                let sync = n > 0 ? "every \(n) samples" : "every \(syncEvery) events"
                                say(String(format: "  %-10@ %d workers, %@ lr %g m %g, %@, deltas %-7@ versions %-7@: %+.3f points vs 1 worker (min %+.3f, max %+.3f), %d rounds, %.0f bytes a delta, %.0f a version",
                                           name as NSString, w, rule.rawValue as NSString, step.learningRate, step.momentum, sync as NSString,
                                           c.rawValue as NSString, vc.rawValue as NSString, gaps.reduce(0, +) / Double(gaps.count), gaps.min()!, gaps.max()!,
                                           rounds / seedList.count, bytes, versionBytes))
                            }
                        }
                    }
                }
            }
        }
    }
}
