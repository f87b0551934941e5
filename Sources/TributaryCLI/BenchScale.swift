import ArgumentParser
import Foundation

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
    @Option(help: "Merge shards of the aggregator part, comma-separated (default: 1 and the cores).") var shards: String = ""
    @Option(help: "Sync rounds per aggregator case.") var aggregatorRounds: Int = 3
    @Option(help: "Only these parts, comma-separated: membership, aggregator (default: both).") var only: String = "membership,aggregator"
    @Option(help: "Write the JSON result here too.") var output: String?

    func runs(_ part: String) -> Bool { only.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == part } }

    func validate() throws {
        for p in only.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !["membership", "aggregator"].contains(p) {
            throw ValidationError("--only: unknown part '\(p)' (known: membership, aggregator)")
        }
        guard workers >= 1, partitions >= 1 else { throw ValidationError("--workers and --partitions must be at least 1") }
        guard churn > 0, churn < 0.5 else { throw ValidationError("--churn must be above 0 and below 0.5") }
    }

    struct Out: Codable {
        var membership: MembershipLoad.Result?
        var aggregator: [AggregatorLoad.Result] = []
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
            say(String(format: "  %d decisions: p50 %.1f µs, p99 %.1f µs, max %.1f µs (heartbeats p99 %.1f µs)",
                       r.decisions, r.p50Us, r.p99Us, r.maxUs, r.heartbeatP99Us))
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
                    for s in shardCounts {
                        let r = AggregatorLoad.run(workers: w, weights: weights, touched: t, shards: s, rounds: aggregatorRounds)
                        say(String(format: "  %5d workers, %@, %d shard%@: receive %8.1f ms, merge %7.1f ms, round %8.1f ms, CPU %8.1f ms; bytes per worker: delta %9d, update %9d",
                                   w, (t >= 1 ? "dense" : "\(t * 100) % touched") as NSString, s, (s == 1 ? "" : "s") as NSString,
                                   r.receiveMs, r.mergeMs, r.roundMs, r.cpuMs, r.deltaBytesPerWorker, r.updateBytesPerWorker))
                        out.aggregator.append(r)
                    }
                }
            }
        }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        if let data = try? enc.encode(out) {
            say("RESULT " + String(decoding: data, as: UTF8.self))
            if let output { try? data.write(to: URL(fileURLWithPath: output)) }
        }
    }
}
