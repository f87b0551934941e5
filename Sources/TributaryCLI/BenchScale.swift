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
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        if let data = try? enc.encode(out) {
            say("RESULT " + String(decoding: data, as: UTF8.self))
            if let output { try? data.write(to: URL(fileURLWithPath: output)) }
        }
    }
}
