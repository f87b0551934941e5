import ArgumentParser
import Foundation
import Kafka
import Runtime

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print records of a topic (predictions, dead letters, events) from the beginning.")
    @Option(help: "Kafka bootstrap servers.") var bootstrap: String?
    @Option(help: "Ask this coordinator for the bootstrap instead.") var coordinator: String?
    @Argument(help: "Topic to read.") var topic: String = "predictions"
    @Option(help: "Stop after this many records (0 = until the end of every partition).") var count: Int = 20

    func run() throws {
        Signals.installStopHandlers()
        var servers = bootstrap
        if servers == nil, let coordinator {
            do { servers = try fetchStatus(coordinator).bootstrap } catch { fail(error.description) }
        }
        guard let servers else { fail("give --bootstrap HOST:PORT or --coordinator tcp://HOST:PORT") }
        do {
            let c = try KafkaConsumer(config: KafkaClientConfig([
                "bootstrap.servers": servers, "group.id": "tributary-tail-\(getpid())", "fetch.wait.max.ms": "10"]))
            let n = try c.partitionCount(topic: topic)
            let tps = (0..<n).map { TopicPartition(topic, Int32($0)) }
            var highs: [Int32: Int64] = [:]
            for tp in tps { highs[tp.partition] = try c.queryWatermarks(tp).high }
            try c.assign(tps, start: .beginning)
            var next: [Int32: Int64] = [:]
            var printed = 0
            let deadline = Clock.nowMs() + 30_000
            while !Signals.shouldStop && Clock.nowMs() < deadline && (count == 0 || printed < count)
                    && tps.contains(where: { (next[$0.partition] ?? 0) < highs[$0.partition]! }) {
                c.poll(timeoutMs: 100, onError: { FileHandle.standardError.write(Data("\($0)\n".utf8)) }) { r in
                    guard count == 0 || printed < count else { return }
                    say("\(topic)[\(r.partition)]@\(r.offset) key=\(String(decoding: r.key, as: UTF8.self)) \(String(decoding: r.value, as: UTF8.self))")
                    next[r.partition] = r.offset + 1
                    printed += 1
                }
            }
            FileHandle.standardError.write(Data("\(printed) records; high watermarks \(highs.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" })\n".utf8))
        } catch { fail("\(error)") }
    }
}
