import ArgumentParser
import Config
import Foundation
import Kafka
import Worker
import Runtime
import Features
import Models

/// How long a worker taking over a partition needs before it can process: reading the
/// partition's feature-state changelog. Measures the worker's own restore path
/// (`ChangelogReader` + `ChangelogRestore`) against the embedded broker.
struct BenchRestore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-restore",
        abstract: "Benchmark: restore time of one partition's feature state (N keys) from its changelog on the embedded broker.")
    @Option(help: "Keys in the partition's state.") var keys: Int = 100_000
    @Option(help: "Feature spec from this cluster.conf (default: the shipped defaults).") var config: String?
    @Option(help: "Write the JSON result here too.") var output: String?

    func run() throws {
        let spec = config.map { loadConfig($0).features } ?? ClusterConfig().features
        guard spec.isStateful else { fail("the feature spec keeps no per-key state: nothing to restore") }
        var partition = PartitionFeatures(spec: spec)
        let pipeline = partition.pipeline
        var stream = SyntheticStream(seed: 5, features: 8, users: 1)
        // One event per key, the shape of the synthetic stream with the key replaced.
        for i in 0..<keys {
            var (_, bytes) = stream.next()
            let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"u0\"", with: "\"k\(i)\"")
            bytes = Array(text.utf8)
            do { try partition.feed(bytes) } catch { fail("synthetic event rejected: \(error)") }
        }
        let records = partition.state.capture(pipeline, nextOffset: Int64(keys))
        let bytes = records.reduce(0) { $0 + $1.key.count + ($1.value?.count ?? 0) }
        let broker: EmbeddedBroker
        do {
            broker = try EmbeddedBroker(brokers: 1)
            try broker.createTopic("bench.features", partitions: 1)
            var pc = KafkaClientConfig()
            pc["bootstrap.servers"] = broker.bootstrap
            pc["linger.ms"] = "50"
            let producer = try KafkaProducer(config: pc)
            for (i, r) in records.enumerated() { try produce(producer, r, tag: i) }
            var failed = 0
            _ = producer.drain(timeoutMs: 60_000) { if $0.error != nil { failed += 1 } }
            if failed > 0 { fail("\(failed) changelog records not delivered") }
            var cc = KafkaClientConfig()
            cc["bootstrap.servers"] = broker.bootstrap
            cc["group.id"] = "bench-restore"
            cc["fetch.wait.max.ms"] = "5"
            let consumer = try KafkaConsumer(config: ChangelogReader.consumerConfig(cc), batchSize: 5000)
            let wm = try consumer.queryWatermarks(TopicPartition("bench.features", 0))
            if wm.low > 0 {
                fail("the embedded broker dropped \(wm.low) of \(wm.high) changelog records (it keeps ~5 MB per partition): use fewer keys")
            }
            // Decode alone (no broker), then the whole path.
            let t0 = Clock.nowMs()
            var mem = ChangelogRestore(pipeline: pipeline)
            for r in records { try mem.apply(key: r.key, value: r.value) }
            let decodeMs = Clock.nowMs() - t0
            let t1 = Clock.nowMs()
            let restored = try ChangelogReader.read(consumer, topic: "bench.features", partition: 0, pipeline: pipeline)
            let (rstate, next) = restored.finish()
            let totalMs = Clock.nowMs() - t1
            guard next == Int64(keys), rstate.keyCount == partition.state.keyCount else {
                fail("restore incomplete: \(rstate.keyCount) of \(partition.state.keyCount) keys, next offset \(next ?? -1)")
            }
            say("restore of a partition with \(keys) keys (\(records.count) changelog records, \(String(format: "%.1f", Double(bytes) / 1e6)) MB): \(totalMs) ms from the embedded broker (\(Int(Double(keys) / max(Double(totalMs), 1) * 1000)) keys/s), of which decoding \(decodeMs) ms")
            let result: [String: Any] = ["keys": keys, "records": records.count, "bytes": bytes, "restoreMs": totalMs, "decodeMs": decodeMs]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self)
            say("RESULT \(json)")
            if let output { try json.write(toFile: output, atomically: true, encoding: .utf8) }
        } catch { fail("\(error)") }
    }

    func produce(_ producer: KafkaProducer, _ r: Changelog.Record, tag: Int) throws(KafkaError) {
        while true {
            do {
                try producer.produce(topic: "bench.features", partition: 0, key: r.key, value: r.value ?? [], tag: tag)
                return
            } catch {
                guard error.isQueueFull else { throw error }
                producer.poll(timeoutMs: 10) { _ in }
            }
        }
    }
}
