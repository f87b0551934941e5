import ArgumentParser
import Foundation
import Kafka
import Runtime

/// `tributary tail`: as `tail` and `kcat -C` read: the newest records, then (`--follow`) each
/// new one as it comes; `--from-beginning` reads from the start instead.
struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the newest records of a topic (predictions, dead letters, events); --follow for new ones.")
    @Option(help: "Kafka bootstrap servers.") var bootstrap: String?
    @Option(help: "Ask this coordinator for the bootstrap instead (default without --bootstrap: $TRIBUTARY_COORDINATOR).")
    var coordinator: String?
    @Argument(help: "Topic to read.") var topic: String = "predictions"
    @Option(help: "How many: the last N of each partition; with --from-beginning, stop after N records (0 = to the end).")
    var count: Int = 10
    @Flag(name: [.short, .long], help: "Keep printing new records until Ctrl-C (as tail -f).") var follow = false
    @Flag(help: "Read from the beginning of every partition.") var fromBeginning = false
    @OptionGroup var security: CurveOptions

    func run() throws {
        Signals.installStopHandlers()
        guard count >= 0 else { fail("--count must be >= 0, got \(count)") }
        var servers = bootstrap
        if servers == nil, let coordinator = coordinator ?? environmentCoordinator() {
            do { servers = try fetchStatus(coordinator, curve: security.client()).bootstrap } catch { fail(error.description) }
        }
        guard let servers else { fail("give --bootstrap HOST:PORT or --coordinator tcp://HOST:PORT (or set TRIBUTARY_COORDINATOR)") }
        do {
            let c = try KafkaConsumer(config: KafkaClientConfig([
                "bootstrap.servers": servers, "group.id": "tributary-tail-\(getpid())", "fetch.wait.max.ms": "10"]))
            let n = try c.partitionCount(topic: topic)
            let tps = (0..<n).map { TopicPartition(topic, Int32($0)) }
            var highs: [Int32: Int64] = [:]
            // Per partition, the next offset to print (where it starts, at first).
            var next: [Int32: Int64] = [:]
            for tp in tps {
                let w = try c.queryWatermarks(tp)
                highs[tp.partition] = w.high
                next[tp.partition] = fromBeginning ? w.low : max(w.low, w.high - Int64(count))
                try c.assign([tp], start: .offset(next[tp.partition]!))
            }
            var printed = 0
            // Without --follow: until every partition is read to where it ended at the start.
            func done() -> Bool {
                if fromBeginning && count > 0 && printed >= count { return true }
                return !follow && !tps.contains { next[$0.partition]! < highs[$0.partition]! }
            }
            let deadline = Clock.nowMs() + 30_000
            while !Signals.shouldStop && !done() && (follow || Clock.nowMs() < deadline) {
                c.poll(timeoutMs: 100, onError: { FileHandle.standardError.write(Data("\($0)\n".utf8)) }) { r in
                    guard !(fromBeginning && count > 0 && printed >= count) else { return }
                    say("\(topic)[\(r.partition)]@\(r.offset) key=\(String(decoding: r.key, as: UTF8.self)) \(String(decoding: r.value, as: UTF8.self))")
                    next[r.partition] = r.offset + 1
                    printed += 1
                }
            }
            if !follow {
                FileHandle.standardError.write(Data("\(printed) records; high watermarks \(highs.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })\n".utf8))
            }
        } catch { fail("\(error)") }
    }
}
