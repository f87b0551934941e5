import Foundation
import Testing
import Config
import Features
import Kafka

/// Issue 20 with real processes: event data as production systems write it, and topics fit
/// for a cluster of several brokers.
@Suite("Real event data end to end", .serialized)
struct RealDataTests {
    /// (user, time in ms, value, merchant, label): users' times interleave, some keys idle past
    /// the TTL, merchants repeat per user.
    static let events: [(String, Int64, Double, String, Int)] = {
        var seed: UInt64 = 7
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        var t: Int64 = 1_796_140_319_000
        return (0..<3000).map { i in
            t += Int64(next() % 40) + (i % 500 == 499 ? 4_000 : 0)
            let v = Double(next() % 1000) / 100
            return ("u\(next() % 40)", t, v, "m\(next() % 9)", Int(next() % 2))
        }
    }()

    static func line(_ e: (String, Int64, Double, String, Int), _ unit: FeatureSpec.TimestampUnit) -> String {
        let (user, ms, v, merchant, y) = e
        let ts: String
        switch unit {
        case .milliseconds: ts = "\(ms)"
        case .iso8601:
            var secs = time_t(ms / 1000)
            var c = tm()
            gmtime_r(&secs, &c)
            ts = String(format: "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", c.tm_year + 1900, c.tm_mon + 1, c.tm_mday,
                        c.tm_hour, c.tm_min, c.tm_sec, Int32(ms % 1000))
        default: ts = "\(ms / 1000).\(String(format: "%03d", ms % 1000))"
        }
        return #"{"user":"\#(user)","ts":\#(ts),"x":{"f0":\#(v)},"merchant":"\#(merchant)","y":\#(y)}"#
    }

    static func config(_ unit: FeatureSpec.TimestampUnit) -> String {
        """
        [kafka]
        partitions = 2
        [features]
        key = "user"
        timestamp_unit = "\(unit.rawValue)"
        numeric = ["x.f0"]
        categorical = [{ field = "user", encoding = "onehot", values = ["u1", "u2"] }]
        text = [{ field = "user", ngrams = 1 }]
        emit = true
        ttl_s = 3
        aggregates = [
          { field = "x.f0", stats = ["count", "mean", "since_last"] },
          { field = "x.f0", stats = ["sum", "count"], window = "tumbling", size_s = 2 },
          { field = "x.f0", stats = ["max"], window = "sliding", size_s = 1.5 },
          { field = "merchant", stats = ["distinct", "count", "last"] },
        ]
        [model]
        sync_interval_ms = 0
        """
    }

    @Test("epoch-ms and ISO-8601 event times, the key field also a categorical and a text input, distinct, count and last of strings: 0 dead letters, and every emitted feature equals the seconds run of the same records",
          arguments: [FeatureSpec.TimestampUnit.milliseconds, .iso8601])
    func realEvents(_ unit: FeatureSpec.TimestampUnit) throws {
        let cluster = try Cluster.start(config: Self.config(unit))
        let w = try cluster.worker("w")
        try cluster.waitFor(seconds: 30, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let file = NSTemporaryDirectory() + "events-\(UUID().uuidString.prefix(8)).jsonl"
        try Self.events.map { Self.line($0, unit) }.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        // Keyed by the cluster's key field, asked from the coordinator.
        let gen = try Proc("produce", ["produce", "--coordinator", cluster.endpoint, "--file", file])
        #expect(gen.wait(seconds: 60) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let done = try cluster.waitCommitted(highs, seconds: 90)
        #expect(done.totalProcessed == Int64(Self.events.count))
        #expect(done.totalDeadLetters == 0)
        let report = try #require(done.workers.first?.report)
        #expect(report.keyMismatches == 0, "records keyed by the key field")

        // The reference: the same records, per partition in offset order, written in seconds.
        let spec = try ClusterConfig.parse(Self.config(.seconds)).features
        let inputs = try readAll(bootstrap: cluster.bootstrap, topic: "events")
        var reference: [Int32: PartitionFeatures] = [:]
        var expected: [String: [Double]] = [:]
        let byLine = Dictionary(uniqueKeysWithValues: Self.events.map { (Self.line($0, unit), Self.line($0, .seconds)) })
        for r in inputs.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            let seconds = try #require(byLine[String(decoding: r.value, as: UTF8.self)])
            var p = reference[r.partition] ?? PartitionFeatures(spec: spec)
            #expect(try p.feed(Array(seconds.utf8)) == .features)
            expected["\(r.partition)/\(r.offset)"] = p.dense
            reference[r.partition] = p
        }
        var compared = 0, differing = 0, first = ""
        for r in try readAll(bootstrap: cluster.bootstrap, topic: "predictions") {
            guard let j = r.json, let p = j["partition"] as? Int, let o = j["offset"] as? Int,
                  let f = j["features"] as? [Double], let want = expected["\(p)/\(o)"] else { continue }
            compared += 1
            let same = f.count == want.count && zip(f, want).allSatisfy { abs($0 - $1) <= 1e-9 * max(1, abs($1)) }
            if !same {
                differing += 1
                if first.isEmpty { first = "partition \(p) offset \(o): \(f) vs \(want)" }
            }
        }
        #expect(compared == Self.events.count)
        #expect(differing == 0, "\(differing) of \(compared) differ; first: \(first)")
        #expect(reference.values.contains { $0.counters.expiredKeys > 0 }, "the stream exercises the TTL")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }

    @Test("input with null keys: every record still scored, each counted as not keyed by features.key in status, one warning per partition")
    func unkeyedInput() throws {
        let cluster = try Cluster.start(config: "[kafka]\npartitions = 2")
        let w = try cluster.worker("w")
        try cluster.waitFor(seconds: 30, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let p = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap]))
        var stream = SyntheticEvents(seed: 3)
        for i in 0..<400 {
            try p.produce(topic: "events", partition: Int32(i % 2), key: [], value: stream.next(), tag: i)
        }
        #expect(p.drain(timeoutMs: 10_000) { _ in } == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let done = try cluster.waitCommitted(highs, seconds: 60)
        #expect(done.totalProcessed == 400)
        #expect(done.workers.first?.report?.keyMismatches == 400)
        let status = try Proc("status", ["status", "--coordinator", cluster.endpoint])
        let text = status.remainingOutput()
        #expect(status.wait(seconds: 20) == 0)
        #expect(text.contains("records not keyed by user 400"), "\(text)")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
        #expect(w.log.components(separatedBy: "input not keyed by features.key").count - 1 == 2, "one warning per partition")
    }

    @Test("repartition = true, input with null keys spread over 4 partitions, 2 workers: every user's records meet in one partition, every emitted feature equals a correctly keyed run's, and per-user count, sum and mean equal the whole stream's; records with no key are dead letters naming the field")
    func repartitioned() throws {
        let config = """
        [kafka]
        partitions = 4
        [features]
        key = "user"
        repartition = true
        timestamp_unit = "ms"
        numeric = ["x.f0"]
        emit = true
        aggregates = [{ field = "x.f0", stats = ["count", "sum", "mean"] }]
        [model]
        sync_interval_ms = 0
        """
        let cluster = try Cluster.start(config: config)
        let ws = try ["r1", "r2"].map { try cluster.worker($0) }
        try cluster.waitFor(seconds: 30, "2 workers own every partition") { $0.unassigned.isEmpty && $0.workers.count == 2 }
        let p = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap, "linger.ms": "5"]))
        for (i, e) in Self.events.enumerated() {
            try p.produce(topic: "events", partition: Int32(i % 4), key: [], value: Array(Self.line(e, .milliseconds).utf8), tag: i)
            if i % 500 == 0 { _ = p.poll(timeoutMs: 0) { _ in } }
        }
        let bad = ["not json", #"{"ts": 1796140319000, "x": {"f0": 1}}"#, "[1, 2]"]
        for (i, b) in bad.enumerated() { try p.produce(topic: "events", partition: Int32(i), key: [], value: Array(b.utf8), tag: 10_000 + i) }
        #expect(p.drain(timeoutMs: 10_000) { _ in } == 0)

        try cluster.waitFor(seconds: 90, "every record re-keyed and processed") { s in
            s.totalProcessed == Int64(Self.events.count) && s.totalDeadLetters == Int64(bad.count)
        }
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "tributary.repartition")
        let done = try cluster.waitCommitted(highs, seconds: 60)
        #expect(done.workers.compactMap { $0.report?.repartitioned }.reduce(0, +) == Int64(Self.events.count))
        #expect(done.workers.compactMap { $0.report?.keyMismatches }.reduce(0, +) == 0, "the re-keyed topic is keyed by user")

        // Every user in one partition of the re-keyed topic, under its own key.
        let rekeyed = try readAll(bootstrap: cluster.bootstrap, topic: "tributary.repartition")
        #expect(rekeyed.count == Self.events.count)
        var partitionOf: [String: Set<Int32>] = [:]
        for r in rekeyed {
            let user = try #require(r.json?["user"] as? String)
            #expect(r.key == user)
            partitionOf[user, default: []].insert(r.partition)
        }
        #expect(partitionOf.values.allSatisfy { $0.count == 1 }, "a user's records split: \(partitionOf.filter { $0.value.count > 1 })")

        // The reference: a correctly keyed run over the re-keyed records, per partition in offset order.
        let spec = try ClusterConfig.parse(config).features
        var reference: [Int32: PartitionFeatures] = [:]
        var expected: [String: [Double]] = [:]
        for r in rekeyed.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            var pf = reference[r.partition] ?? PartitionFeatures(spec: spec)
            #expect(try pf.feed(r.value) == .features)
            expected["\(r.partition)/\(r.offset)"] = pf.dense
            reference[r.partition] = pf
        }
        var last: [String: [Double]] = [:]
        var compared = 0, differing = 0
        for r in try readAll(bootstrap: cluster.bootstrap, topic: "predictions") {
            guard let j = r.json, let pt = j["partition"] as? Int, let o = j["offset"] as? Int, let f = j["features"] as? [Double],
                  let key = j["key"] as? String else { continue }
            compared += 1
            if let want = expected["\(pt)/\(o)"], zip(f, want).allSatisfy({ abs($0 - $1) <= 1e-9 * max(1, abs($1)) }) {} else { differing += 1 }
            if f[1] > (last[key]?[1] ?? 0) { last[key] = f }
        }
        #expect(compared == Self.events.count)
        #expect(differing == 0, "\(differing) of \(compared) feature vectors differ from the keyed run's")
        // Per user, the final count, sum and mean are those of all the user's events.
        var byUser: [String: [Double]] = [:]
        for e in Self.events { byUser[e.0, default: []].append(e.2) }
        for (user, xs) in byUser {
            let f = try #require(last[user], "no prediction for \(user)")
            let sum = xs.reduce(0, +)
            #expect(f[1] == Double(xs.count) && abs(f[2] - sum) < 1e-6 && abs(f[3] - sum / Double(xs.count)) < 1e-9, "\(user): \(f) vs \(xs.count), \(sum)")
        }

        let dead = try readAll(bootstrap: cluster.bootstrap, topic: "events.dlq")
        #expect(dead.count == bad.count)
        #expect(dead.allSatisfy { $0.headers["tributary.source.topic"] == "events" && ($0.headers["tributary.error"] ?? "").contains("repartition by user") })
        #expect(Set(dead.compactMap { $0.headers["tributary.reason"] }) == ["not_json", "missing_field", "not_object"])
        for w in ws { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
    }

    @Test("embedded cluster of 3 brokers with replication_factor 3: every topic Tributary creates has 3 replicas, and the cluster scores")
    func replicatedTopics() throws {
        let cluster = try Cluster.start(config: "[kafka]\nembedded_brokers = 3\nreplication_factor = 3\nmin_insync_replicas = 2\n[features]\naggregates = [{ field = \"x.f0\", stats = [\"count\"] }]")
        let admin = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap]))
        let layout = try admin.layout()
        #expect(layout.brokers == 3)
        for t in ["events", "predictions", "events.dlq", "tributary.features", "tributary.models"] {
            #expect(layout.topics[t]?.replicas == 3, "\(t): \(String(describing: layout.topics[t]))")
        }
        let w = try cluster.worker("w")
        try cluster.waitFor(seconds: 30, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "1000"])
        #expect(gen.wait(seconds: 60) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        #expect(try cluster.waitCommitted(highs, seconds: 90).totalProcessed == 1000)
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}

@Suite("Kafka errors")
struct KafkaErrorTests {
    @Test("errors carry a typed code: librdkafka's own, or what went wrong outside it (a missing setting, a client that could not be made)")
    func typedCodes() {
        do {
            _ = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": "127.0.0.1:1"]))
            Issue.record("a consumer without group.id was made")
        } catch {
            #expect(error.errorCode == .configuration && error.code == nil)
            #expect(error.description.contains("'group.id'"))
        }
        do {
            _ = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": "127.0.0.1:1", "linger.ms": "not a number"]))
            Issue.record("a producer with a bad linger.ms was made")
        } catch {
            #expect(error.errorCode == .configuration)
            #expect(error.description.contains("'linger.ms'"))
        }
    }
}

/// Synthetic event bytes for tests that produce records themselves.
struct SyntheticEvents {
    var seed: UInt64
    var index = 0
    mutating func next() -> [UInt8] {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        index += 1
        let x = Double(seed >> 40) / Double(1 << 24)
        return Array(#"{"user":"u\#(index % 17)","ts":\#(1_796_140_319 + index),"x":{"f0":\#(x),"f1":0,"f2":0,"f3":0,"f4":0,"f5":0,"f6":0,"f7":0},"y":\#(x > 0.5 ? 1 : 0)}"#.utf8)
    }
}
