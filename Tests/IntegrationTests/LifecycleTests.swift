import Foundation
import Kafka
import Testing
import Wire

/// Issue 11: champion and challengers in a live cluster (separate processes, the embedded
/// Kafka broker, real ZeroMQ). The stream is the synthetic Hyperplane (River's generator:
/// 8 uniform features, a linear boundary, 5 % label noise).
@Suite("Model lifecycle, live", .serialized)
struct LifecycleLiveTests {
    /// One prediction record of the output or shadow topic.
    struct Prediction {
        var partition: Int
        var offset: Int
        var key: String
        var model: String
        var version: Int
    }

    func predictions(_ cluster: Cluster, topic: String) throws -> [Prediction] {
        try readAll(bootstrap: cluster.bootstrap, topic: topic).compactMap { r in
            guard let j = r.json, let p = j["partition"] as? Int, let o = j["offset"] as? Int, let m = j["model"] as? String,
                  let v = j["model_version"] as? Int else { return nil }
            return Prediction(partition: p, offset: o, key: r.key, model: m, version: v)
        }
    }

    /// Every input offset (0 ..< high of each partition) appears exactly once.
    func expectOnePerOffset(_ ps: [Prediction], highs: [Int32: Int64], _ what: String) {
        var seen: [Int32: [Int: Int]] = [:]
        for p in ps { seen[Int32(p.partition), default: [:]][p.offset, default: 0] += 1 }
        for (part, high) in highs {
            let counts = seen[part] ?? [:]
            let missing = (0..<Int(high)).filter { counts[$0] == nil }
            let twice = counts.filter { $0.value > 1 }.map(\.key).sorted()
            #expect(missing.isEmpty && twice.isEmpty && counts.count == Int(high),
                    "\(what), partition \(part): missing \(missing.prefix(10)) (\(missing.count)), more than once \(twice.prefix(10)) (\(twice.count))")
        }
    }

    /// 4 partitions, the synthetic events' 8 numeric features, sync every 200 ms; ends inside
    /// [model], so a test's extra lines may add to it.
    static let config = """
        [kafka]
        partitions = 4
        [features]
        aggregates = []
        [model]
        sync_interval_ms = 200

        """

    /// A cluster of `workers` workers owning 4 partitions, fed `count` synthetic events.
    func run(_ config: String, workers: Int, count: Int, rate: Int, users: Int = 1000,
             during: (Cluster) throws -> Void = { _ in }) throws -> (Cluster, [Proc], [Int32: Int64]) {
        let cluster = try Cluster.start(config: config)
        let ws = try (1...workers).map { try cluster.worker("lc\($0)") }
        try cluster.waitFor(seconds: 20, "\(workers) workers sharing 4 partitions") { s in
            s.workers.count == workers && s.unassigned.isEmpty && s.workers.allSatisfy { !$0.partitions.isEmpty }
        }
        let gen = try Proc("produce", ["produce", "--coordinator", cluster.endpoint, "--count", String(count),
                                       "--rate", String(rate), "--users", String(users)])
        try during(cluster)
        #expect(gen.wait(seconds: 180) == 0, "\(gen.log)")
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        #expect(highs.values.reduce(0, +) == Int64(count))
        try cluster.waitCommitted(highs)
        return (cluster, ws, highs)
    }

    func stop(_ ws: [Proc]) {
        for w in ws { w.signal(SIGTERM) }
        for w in ws { #expect(w.wait(seconds: 20) == 0, "\(w.name) did not exit 0: \(w.log.suffix(2000))") }
    }

    @Test("two models: shadow metrics tell them apart, the rule promotes the better one, and every input offset has exactly one champion prediction across the switch")
    func promotion() throws {
        let (cluster, ws, highs) = try run(Self.config + """
        name = "narrow"
        features = ["x.f0"]
        metrics_window = 500
        [challengers.wide]
        [lifecycle]
        shadow_topic = "predictions.shadow"
        promote_metric = "accuracy"
        promote_margin = 0.05
        promote_min_records = 3000
        """, workers: 2, count: 20_000, rate: 2500)
        let s = try cluster.status()
        let log = s.lifecycleLog.joined(separator: "\n")
        print("promotion: \(log)")
        for m in s.models { print("  \(m.name) champion \(m.champion) labelled \(m.labelled) served \(m.served) accuracy \(m.metrics["accuracy"] ?? 0) recent \(m.windowMetrics["accuracy"] ?? 0)") }
        let wide = try #require(s.models.first { $0.name == "wide" }), narrow = try #require(s.models.first { $0.name == "narrow" })
        #expect(wide.champion && !narrow.champion, "the rule promoted wide: \(log)")
        #expect(wide.labelled == 20_000 && narrow.labelled == 20_000, "both scored every record")
        #expect((wide.metrics["accuracy"] ?? 0) > (narrow.metrics["accuracy"] ?? 1) + 0.05, "shadow metrics tell them apart")
        // The version the promotion took effect at, from the decision in status.
        let line = try #require(s.lifecycleLog.first { $0.contains("promotion rule") }, "\(log)")
        let switchVersion = try #require(Int(String(line.dropFirst().prefix { $0.isNumber })))
        let out = try predictions(cluster, topic: "predictions")
        expectOnePerOffset(out, highs: highs, "output topic")
        let wrong = out.filter { $0.model != ($0.version >= switchVersion ? "wide" : "narrow") }
        #expect(wrong.isEmpty, "\(wrong.count) predictions made by the wrong model for their version (switch at v\(switchVersion)): \(wrong.prefix(3))")
        #expect(out.contains { $0.model == "narrow" } && out.contains { $0.model == "wide" })
        #expect(Int64(out.filter { $0.model == "wide" }.count) == wide.served)
        // Shadow: the other model's prediction of every record, also exactly once.
        let shadow = try predictions(cluster, topic: "predictions.shadow")
        expectOnePerOffset(shadow, highs: highs, "shadow topic")
        let champion = Dictionary(out.map { ("\($0.partition)/\($0.offset)", $0.model) }, uniquingKeysWith: { a, _ in a })
        #expect(shadow.allSatisfy { champion["\($0.partition)/\($0.offset)"] != $0.model })
        stop(ws)
    }

    @Test("A/B at 20 %: the challenger makes 20 % ± 2 % of the output predictions, and a key always goes to the same model")
    func abSplit() throws {
        let (cluster, ws, highs) = try run(Self.config + """
        [challengers.b]
        learning_rate = 0.05
        ab_share = 0.2
        """, workers: 2, count: 20_000, rate: 5000, users: 10_000)
        let out = try predictions(cluster, topic: "predictions")
        expectOnePerOffset(out, highs: highs, "output topic")
        let share = Double(out.filter { $0.model == "b" }.count) / Double(out.count)
        print("A/B: challenger share \(share) of \(out.count) predictions")
        #expect(abs(share - 0.2) <= 0.02, "share \(share)")
        var byKey: [String: Set<String>] = [:]
        for p in out { byKey[p.key, default: []].insert(p.model) }
        let split = byKey.filter { $0.value.count > 1 }
        #expect(split.isEmpty, "keys scored by both models: \(split.prefix(5))")
        #expect(byKey.values.filter { $0.count == 1 }.count > 5000, "many keys with more than one record were checked")
        let s = try cluster.status()
        #expect(s.models.first { $0.name == "b" }?.served == Int64(out.filter { $0.model == "b" }.count))
        stop(ws)
    }

    @Test("deploy a model into a running 2-worker cluster: it scores within 10 s, with no restart and no champion prediction lost")
    func hotDeploy() throws {
        let spec = NSTemporaryDirectory() + "deploy-\(getpid()).toml"
        try "name = \"fresh\"\nfeatures = [\"x.f0\", \"x.f1\", \"x.f2\", \"x.f3\"]\nlearning_rate = 0.05\n".write(toFile: spec, atomically: true, encoding: .utf8)
        var scoringAfter = -1.0
        var pids: [Int32] = []
        let (cluster, ws, highs) = try run(Self.config, workers: 2, count: 30_000, rate: 2500) { cluster in
            try cluster.waitFor(seconds: 20, "records flowing") { $0.totalProcessed > 2000 }
            pids = try cluster.status().workers.map(\.pid)
            let start = Date()
            let d = try Proc("deploy", ["model", "deploy", "--coordinator", cluster.endpoint, spec])
            #expect(d.wait(seconds: 20) == 0, "\(d.log)")
            print(d.remainingOutput())
            try cluster.waitFor(seconds: 10, "the deployed model scoring on every worker") { s in
                s.models.first { $0.name == "fresh" }.map { $0.labelled > 0 } == true
                    && s.workers.allSatisfy { $0.report?.models.contains { $0.name == "fresh" && $0.evaluation.whole.count > 0 } == true }
            }
            scoringAfter = Date().timeIntervalSince(start)
        }
        print("deploy: scoring on both workers \(scoringAfter) s after the command")
        #expect(scoringAfter >= 0 && scoringAfter <= 10)
        let s = try cluster.status()
        #expect(s.workers.map(\.pid) == pids, "no worker restarted")
        let fresh = try #require(s.models.first { $0.name == "fresh" })
        #expect(fresh.served == 0 && fresh.labelled > 10_000 && !fresh.champion)
        let out = try predictions(cluster, topic: "predictions")
        expectOnePerOffset(out, highs: highs, "output topic")
        #expect(out.allSatisfy { $0.model == "main" }, "the champion made every output prediction")
        // Retire it: every worker drops it at the same version; the champion is kept.
        let r = try Proc("retire", ["model", "retire", "--coordinator", cluster.endpoint, "fresh"])
        #expect(r.wait(seconds: 20) == 0, "\(r.log)")
        let refused = try Proc("retire-champion", ["model", "retire", "--coordinator", cluster.endpoint, "main"])
        #expect(refused.wait(seconds: 20) == 2 && refused.log.contains("champion"), "\(refused.log)")
        try cluster.waitFor(seconds: 10, "every worker down to one model") { s in
            s.models.isEmpty && s.workers.allSatisfy { $0.report?.models.isEmpty == true }
                && s.lifecycleLog.contains { $0.contains("retired model fresh") }
        }
        stop(ws)
    }

    @Test("replay 20,000 retained records into a new model: it joins warm, and the live consumer offsets are unchanged")
    func replay() throws {
        let (cluster, ws, highs) = try run(Self.config, workers: 1, count: 20_000, rate: 10_000)
        let reader = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap, "group.id": "tributary"]))
        let tps = (0..<4).map { TopicPartition("events", Int32($0)) }
        let before = try reader.committed(tps)
        #expect(Dictionary(uniqueKeysWithValues: before.map { ($0.key.partition, $0.value) }) == highs)
        let spec = NSTemporaryDirectory() + "replay-\(getpid()).toml"
        try "name = \"warm\"\nlearning_rate = 0.05\n".write(toFile: spec, atomically: true, encoding: .utf8)
        let r = try Proc("replay", ["replay", "--coordinator", cluster.endpoint, "--config", try #require(cluster.configPath),
                                    "--from", "0", "--model", spec])
        #expect(r.wait(seconds: 120) == 0, "\(r.log)")
        let text = r.remainingOutput()
        print(text)
        #expect(text.contains("replayed 20000 records (20000 labelled"), "\(text)")
        #expect(try reader.committed(tps) == before, "the live group's offsets moved")
        // From a time: every record was written after 2000 (the broker's timestamps).
        let byTime = try Proc("replay-time", ["replay", "--coordinator", cluster.endpoint, "--config", try #require(cluster.configPath),
                                              "--from", "2000-01-01T00:00:00Z", "--model", spec, "--dry-run"])
        #expect(byTime.wait(seconds: 120) == 0, "\(byTime.log)")
        #expect(byTime.remainingOutput().contains("replayed 20000 records"))
        let future = try Proc("replay-future", ["replay", "--coordinator", cluster.endpoint, "--config", try #require(cluster.configPath),
                                                "--from", "@\(Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000)", "--model", spec, "--dry-run"])
        #expect(future.wait(seconds: 120) == 0, "\(future.log)")
        #expect(future.remainingOutput().contains("replayed 0 records"), "records newer than an hour from now")
        let s = try cluster.waitFor(seconds: 10, "the replayed model deployed") { $0.models.contains { $0.name == "warm" } }
        #expect(s.lifecycleLog.contains { $0.contains("deployed model warm (with given weights)") })
        let path = NSTemporaryDirectory() + "warm-\(getpid()).json"
        let e = try Proc("export", ["model", "export", "--coordinator", cluster.endpoint, "--name", "warm", path])
        #expect(e.wait(seconds: 20) == 0)
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any]
        let weights = try #require(m?["parameters"] as? [Double])
        #expect(weights.count == 9 && weights.contains { abs($0) > 0.1 }, "warm weights: \(weights)")
        // Warm from the first live record: its progressive accuracy on new records.
        let more = try Proc("produce", ["produce", "--coordinator", cluster.endpoint, "--count", "4000", "--rate", "4000"])
        #expect(more.wait(seconds: 60) == 0)
        let after = try cluster.waitFor(seconds: 60, "4,000 more records scored") { s in
            (s.models.first { $0.name == "warm" }?.labelled ?? 0) >= 4000
        }
        let warm = try #require(after.models.first { $0.name == "warm" })
        print("replayed model on 4,000 new records: accuracy \(warm.metrics["accuracy"] ?? 0)")
        #expect((warm.metrics["accuracy"] ?? 0) >= 0.8)
        stop(ws)
    }
}
