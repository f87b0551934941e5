import Foundation
import Testing
import Kafka
import Wire

/// Issue 21 with real processes: labels on their own topic, 0–120 s (event time) after their
/// events; the worker learns from the features it served when each label comes.
@Suite("Delayed labels", .serialized)
struct DelayedLabelTests {
    /// A stream of events one second apart, a label for 95 % of them 0-120 s later (every
    /// 200th sent twice): the records in time order per topic, and what to expect of them.
    struct Stream {
        var records: [(time: Double, topic: String, partition: Int32, value: String)] = []
        var labelled = 0, duplicated = 0
        var lastLabelTime: [Int32: Double] = [:]
        var unlabelled: [(Int32, Double)] = []
    }

    static func stream(n: Int, partitions: Int32) -> Stream {
        var seed: UInt64 = 11
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        func unit() -> Double { Double(next() % 2_000_001) / 1_000_000 - 1 }
        let base = 1_796_000_000.0
        var st = Stream()
        for i in 0..<n {
            let t = base + Double(i), p = Int32(i) % partitions
            let x0 = unit(), x1 = unit()
            let y = x0 + 0.5 * x1 > 0 ? 1 : 0
            st.records.append((t, "events", p, #"{"id":"e\#(i)","user":"u\#(i % 50)","ts":\#(t),"x":{"f0":\#(x0),"f1":\#(x1)}}"#))
            if next() % 100 < 5 { st.unlabelled.append((p, t)); continue }
            let lt = t + Double(next() % 121)
            st.labelled += 1
            st.lastLabelTime[p] = max(st.lastLabelTime[p] ?? 0, lt)
            let label = #"{"id":"e\#(i)","y":\#(y),"ts":\#(lt)}"#
            st.records.append((lt, "labels", p, label))
            if i % 200 == 7 {
                st.duplicated += 1
                st.records.append((lt + 1, "labels", p, label))
                st.lastLabelTime[p] = max(st.lastLabelTime[p]!, lt + 1)
            }
        }
        return st
    }

    static func produce(_ records: [(time: Double, topic: String, partition: Int32, value: String)], to cluster: Cluster) throws {
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap, "linger.ms": "5"]))
        for (k, r) in records.sorted(by: { $0.time < $1.time }).enumerated() {
            try producer.produce(topic: r.topic, partition: r.partition, key: [], value: Array(r.value.utf8), tag: k)
            if k % 500 == 0 { _ = producer.poll(timeoutMs: 0) { _ in } }
        }
        #expect(producer.drain(timeoutMs: 10_000) { _ in } == 0)
    }

    @Test("1, 2 and 4 workers with averaging on one delayed-label stream (16,000 events, 4 partitions): every label joined on each, 2 workers within 1 accuracy point of one and 4 within 2")
    func workers() throws {
        let n = 16_000
        let st = Self.stream(n: n, partitions: 4)
        var accuracy: [Int: Double] = [:]
        for k in [1, 2, 4] {
            let cluster = try Cluster.start(config: """
            [kafka]
            partitions = 4
            [worker]
            batch_size = 20
            [features]
            key = "user"
            numeric = ["x.f0", "x.f1"]
            aggregates = []
            [model]
            # A short stream: merge often, and sum the deltas (the
            # advice of docs/CONFIG.md for short streams) so that k workers learn as one.
            sync_interval_ms = 50
            merge = "sum"
            learning_rate = 0.1
            [labels]
            topic = "labels"
            horizon_s = 300
            """)
            // Written before the workers start: scored faster than averaging can follow under
            // load, where k workers are nearly k separate learners, each on its share. 16,000
            // events keep that within the bound (8,000: 4 workers 1.1 points under one in CI).
            // 4 workers are allowed 2 points: with faster workers (issue 24) they came 1.0-1.1
            // points under one in 1 run of 3, at 16,000 events and at 32,000 alike.
            try Self.produce(st.records, to: cluster)
            let ws = try (1...k).map { try cluster.worker("w\($0)") }
            let s = try cluster.waitFor(seconds: 120, "\(k) workers: every label joined") { s in
                let joined = s.workers.compactMap { $0.report?.labels?.joined }.reduce(0, +)
                return s.workers.count == k && s.unassigned.isEmpty && joined >= Int64(st.labelled) && s.totalProcessed >= Int64(n)
            }
            let joined = s.workers.compactMap { $0.report?.labels?.joined }.reduce(0, +)
            #expect(joined == Int64(st.labelled), "\(k) workers joined \(joined) of \(st.labelled)")
            #expect(s.workers.allSatisfy { ($0.report?.processed ?? 0) > 0 }, "every worker took part")
            accuracy[k] = s.accuracy
            print("delayed labels, \(k) workers: accuracy \(s.accuracy), global version \(s.modelVersion), per worker \(s.workers.map { "\($0.workerId) v\($0.report?.modelVersion ?? -1) processed \($0.report?.processed ?? 0) acc \($0.report?.accuracy ?? 0)" })")
            for w in ws { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
        }
        print("delayed labels, progressive accuracy by workers: \(accuracy.sorted { $0.key < $1.key })")
        let one = try #require(accuracy[1])
        #expect(one > 0.95)
        for (k, bound) in [(2, 0.01), (4, 0.02)] {
            #expect(abs((accuracy[k] ?? 0) - one) <= bound, "\(k) workers \(accuracy[k] ?? 0) vs 1 worker \(one)")
        }
    }

    @Test("River's delayed progressive validation (progressive_val_score with moment and delay, 5,000 events, labels 0-120 s later on their own topic): one worker's accuracy and log loss equal River's to 1e-9")
    func riverDelayedParity() throws {
        let dir = NSTemporaryDirectory() + "river-delayed-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(sh("python3 '\(repoRoot)/tools/river_delayed.py' '\(dir)/events.jsonl' '\(dir)/labels.jsonl' > '\(dir)/river.out'") == 0)
        let text = try String(contentsOfFile: dir + "/river.out", encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "river: \(text)")
        let ref = try JSONDecoder().decode(RiverParityTests.Reference.self, from: Data(line.dropFirst(7).utf8))
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 1
        [kafka.consumer]
        "fetch.wait.max.ms" = 10
        [features]
        key = "user"
        timestamp = "ts"
        numeric = [\(ref.features.map { "\"\($0)\"" }.joined(separator: ", "))]
        aggregates = []
        [model]
        learning_rate = 0.01
        sync_interval_ms = 0
        [labels]
        topic = "labels"
        id = "id"
        label = "y"
        timestamp = "ts"
        horizon_s = 300
        """)
        // Both topics written first: the worker merges them by event time (labelsDue).
        for (file, topic) in [("events", "events"), ("labels", "labels")] {
            let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--file", "\(dir)/\(file).jsonl", "--topic", topic])
            #expect(gen.wait(seconds: 120) == 0, "\(gen.log)")
        }
        let w = try cluster.worker("w")
        let s = try cluster.waitFor(seconds: 120, "all \(ref.n) labels learnt") { s in
            (s.workers.first?.report?.labelled ?? 0) >= Int64(ref.n)
        }
        let r = try #require(s.workers.first?.report)
        let l = try #require(r.labels)
        print("delayed parity (\(ref.n) events): Tributary accuracy \(r.accuracy) log loss \(r.logLoss); River accuracy \(ref.accuracy) log loss \(ref.logloss); labels \(l)")
        #expect(r.labelled == Int64(ref.n) && l.joined == Int64(ref.n) && r.deadLetters == 0 && r.skippedOffsets == 0)
        #expect(abs(r.accuracy - ref.accuracy) <= 1e-9, "accuracy \(r.accuracy) vs River \(ref.accuracy)")
        #expect(abs(r.logLoss - ref.logloss) <= 1e-9, "log loss \(r.logLoss) vs River \(ref.logloss)")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }

    @Test("labels 0-120 s after their events on a labels topic: every label joined to its prediction, duplicates and bad label records counted (dead letters naming the field), predictions never labelled expire by the label stream's clock, and the model learns")
    func joinsAndLearns() throws {
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 2
        [worker]
        batch_size = 20
        [features]
        key = "user"
        label = "y"
        numeric = ["x.f0", "x.f1"]
        aggregates = []
        target_encoding = [{ field = "user", smoothing = 10 }]
        emit = true
        [model]
        sync_interval_ms = 0
        learning_rate = 0.1
        [labels]
        topic = "labels"
        id = "id"
        label = "y"
        horizon_s = 300
        """)
        let n = 4000
        let st = Self.stream(n: n, partitions: 2)
        var records = st.records
        let (base, labelled, duplicated) = (1_796_000_000.0, st.labelled, st.duplicated)
        let (lastLabelTime, unlabelled) = (st.lastLabelTime, st.unlabelled)
        let bad = [#"{"id":"e1","ts":1796000001}"#, "not json", #"{"id":"e2","y":"maybe","ts":1796000002}"#]
        for b in bad { records.append((base, "labels", 0, b)) }
        try Self.produce(records, to: cluster)
        // The worker starts on topics already written: it merges the two streams by event time
        // (a live stream does the same as the records come).
        let w = try cluster.worker("w")
        // Expired: unlabelled predictions the label stream of their partition passed by the horizon.
        let expired = unlabelled.filter { $0.1 + 300 < lastLabelTime[$0.0]! }.count

        // Done when every record of both topics has been read: the labels' count, and the
        // expiries that the last labels cause.
        let s = try cluster.waitFor(seconds: 90, "every label read") { s in
            guard let l = s.workers.first?.report?.labels else { return false }
            return l.joined + l.duplicate + l.deadLetters + l.unknown + l.late >= Int64(labelled + duplicated + bad.count)
                && s.totalProcessed == Int64(n) && l.expired >= Int64(expired)
        }
        let l = try #require(s.workers.first?.report?.labels)
        #expect(l.joined == Int64(labelled), "\(l)")
        #expect(l.duplicate == Int64(duplicated))
        #expect(l.deadLetters == Int64(bad.count))
        #expect(l.unknown == 0 && l.late == 0 && l.noId == 0)
        #expect(l.expired == Int64(expired), "\(l.expired) expired, \(expired) expected")
        #expect(l.delayP99 <= 120 && l.delayP50 > 20)
        let report = try #require(s.workers.first?.report)
        #expect(report.labelled == Int64(labelled), "learnt from every joined label")
        // River's delayed progressive_val_score on a stream drawn the same way: 0.983.
        #expect(report.accuracy > 0.95, "progressive accuracy \(report.accuracy) (scored with the prediction made before the label); recent \(report.windowMetrics)")

        // Counted when produced: read once delivered.
        var dead = try readAll(bootstrap: cluster.bootstrap, topic: "events.dlq")
        let until = Date().addingTimeInterval(15)
        while dead.count < bad.count && Date() < until {
            usleep(200_000)
            dead = try readAll(bootstrap: cluster.bootstrap, topic: "events.dlq")
        }
        #expect(dead.count == bad.count)
        #expect(dead.allSatisfy { $0.headers["tributary.source.topic"] == "labels" })
        #expect(dead.contains { ($0.headers["tributary.error"] ?? "").contains("'y'") }, "\(dead.map(\.headers))")

        let status = try Proc("status", ["status", "--coordinator", cluster.endpoint])
        let text = status.remainingOutput()
        #expect(status.wait(seconds: 20) == 0)
        #expect(text.contains("labels: joined \(labelled)"), "\(text)")

        // The labels joined the target encoding too: a user's mean label, read before its own
        // event learns, is no longer the 0.5 prior of a partition without labels. (Every
        // input offset committed first: its prediction is delivered then.)
        try cluster.waitCommitted(try highWatermarks(bootstrap: cluster.bootstrap, topic: "events"))
        var lastTarget: [String: Double] = [:]
        for r in try readAll(bootstrap: cluster.bootstrap, topic: "predictions") {
            guard let j = r.json, let key = j["key"] as? String, let f = j["features"] as? [Double], let t = f.last else { continue }
            lastTarget[key] = t
        }
        #expect(lastTarget.count == 50)
        #expect(lastTarget.values.allSatisfy { $0 != 0.5 && $0 > 0.3 && $0 < 0.7 }, "\(lastTarget)")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }

    @Test("kill -9 of a worker while 10,000 predictions wait for labels: the next owner restores them from the changelog and joins every label (0 unknown ids, 0 lost joins); at-least-once on the embedded broker, exactly-once on Tansu (the waiting predictions in the transaction)",
          arguments: ["embedded", "tansu"])
    func waitingPredictionsSurviveKill(broker: String) throws {
        let site = try MembershipScenarioTests.Site(broker)
        let cluster = try Cluster.start(config: site.config("""
        [kafka]
        partitions = 2
        \(broker == "tansu" ? "guarantee = \"exactly_once\"" : "")
        [coordinator]
        heartbeat_ms = 250
        failure_timeout_ms = 2000
        [features]
        key = "user"
        numeric = ["x.f0"]
        aggregates = []
        [model]
        sync_interval_ms = 0
        [labels]
        topic = "labels"
        horizon_s = 100000
        """), env: site.env)
        let dir = NSTemporaryDirectory() + "labels-kill-\(getpid())-\(broker)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Keyed by user, events and labels alike (`tributary produce --file`), so a label lands
        // on its event's partition number.
        let n = 20_000, base = 1_796_000_000.0
        func write(_ topic: String, _ lines: [String]) throws {
            try lines.joined(separator: "\n").write(toFile: "\(dir)/\(topic).jsonl", atomically: true, encoding: .utf8)
            let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--file", "\(dir)/\(topic).jsonl", "--topic", topic],
                               env: cluster.env)
            #expect(gen.wait(seconds: 300) == 0, "\(gen.log)")
        }
        try write("events", (0..<n).map { i in #"{"id":"e\#(i)","user":"u\#(i % 50)","ts":\#(base + Double(i)),"x":{"f0":\#(Double(i % 7) - 3)}}"# })
        // Half the labels before the kill, the rest after it.
        func labels(_ r: Range<Int>) throws {
            try write("labels", r.map { i in #"{"id":"e\#(i)","user":"u\#(i % 50)","y":\#(i % 7 > 3 ? 1 : 0),"ts":\#(base + Double(n + i))}"# })
        }
        try labels(0..<n / 2)
        let a = try cluster.worker("a")
        // Every event served and committed: its waiting prediction is in a complete capture.
        let highs = try site.highs(cluster)
        try cluster.waitCommitted(highs, seconds: 120)
        let before = try cluster.waitFor(seconds: 60, "the first half of the labels joined") { s in
            (s.workers.first?.report?.labels?.joined ?? 0) >= Int64(n / 2)
        }
        #expect(before.workers.first?.report?.labels?.pending == Int64(n / 2))
        usleep(600_000)  // a commit interval or two: the latest joins captured too
        a.signal(SIGKILL)
        _ = a.wait(seconds: 10)

        let b = try cluster.worker("b")
        try labels(n / 2..<n)
        let after = try cluster.waitFor(seconds: 120, "the second half joined on the new owner") { s in
            guard let w = s.workers.first(where: { $0.workerId == "b" }), let l = w.report?.labels else { return false }
            return l.joined >= Int64(n - n / 2) && l.pending == 0
        }
        let l = try #require(after.workers.first { $0.workerId == "b" }?.report?.labels)
        #expect(l.unknown == 0 && l.late == 0 && l.expired == 0, "\(l)")
        #expect(l.joined == Int64(n - n / 2) && l.earlyLabels == 0, "\(l)")
        #expect(b.log.contains("predictions waiting for labels restored"), "\(b.log)")
        // Every event has its prediction; exactly one under exactly-once (read_committed).
        var predictions: [Int32: [Int64: Int]] = [:]
        for r in try broker == "tansu" ? readTopic(bootstrap: cluster.bootstrap, topic: "predictions") : site.records(cluster, "predictions") {
            guard let j = r.json, let p = j["partition"] as? Int, let o = j["offset"] as? Int else { continue }
            predictions[Int32(p), default: [:]][Int64(o), default: 0] += 1
        }
        let missing = highs.map { p, high in (0..<high).filter { predictions[p]?[$0] == nil }.count }.reduce(0, +)
        #expect(missing == 0, "\(missing) input offsets without a prediction")
        if broker == "tansu" {
            let twice = predictions.values.flatMap(\.values).filter { $0 > 1 }.count
            #expect(twice == 0, "\(twice) input offsets with more than one committed prediction")
        }
        b.signal(SIGTERM)
        #expect(b.wait(seconds: 20) == 0)
    }

    @Test("features.repartition with labels: events and labels written with null keys to any partition are re-keyed by user alike, so 2 workers join every label to its prediction (0 unknown ids); a label without the key field is a dead letter")
    func repartitionedLabels() throws {
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 4
        [kafka.consumer]
        "fetch.wait.max.ms" = 10
        [features]
        key = "user"
        repartition = true
        numeric = ["x.f0"]
        aggregates = [{ field = "x.f0", stats = ["mean"] }]
        [model]
        sync_interval_ms = 200
        [labels]
        topic = "labels"
        # Re-keyed records keep no order across source partitions, and this stream is
        # written before the workers start: the horizon spans the whole replay.
        horizon_s = 100000
        """)
        let n = 4000, base = 1_796_000_000.0
        var records: [(time: Double, topic: String, partition: Int32, value: String)] = []
        for i in 0..<n {
            let t = base + Double(i)
            // Spread by something else than the user: only re-keying brings a user together.
            records.append((t, "events", Int32(i * 7 % 4),
                            #"{"id":"e\#(i)","user":"u\#(i % 30)","ts":\#(t),"x":{"f0":\#(Double(i % 5) - 2)}}"#))
            records.append((t + Double(i % 90) + 0.5, "labels", Int32(i * 3 % 4),
                            #"{"id":"e\#(i)","user":"u\#(i % 30)","y":\#(i % 5 > 2 ? 1 : 0),"ts":\#(t + Double(i % 90) + 0.5)}"#))
        }
        records.append((base + Double(n + 100), "labels", 1, #"{"id":"e1","y":1,"ts":\#(base + Double(n + 100))}"#))
        try Self.produce(records, to: cluster)
        let ws = try ["a", "b"].map { try cluster.worker($0) }
        let s = try cluster.waitFor(seconds: 120, "every label joined") { s in
            let joined = s.workers.compactMap { $0.report?.labels?.joined }.reduce(0, +)
            return s.workers.count == 2 && joined >= Int64(n) && s.totalProcessed >= Int64(n)
        }
        let ls = s.workers.compactMap { $0.report?.labels }
        #expect(ls.map(\.joined).reduce(0, +) == Int64(n))
        #expect(ls.map(\.unknown).reduce(0, +) == 0 && ls.map(\.late).reduce(0, +) == 0, "\(ls)")
        let dead = try cluster.waitFor(seconds: 30, "the keyless label dead-lettered") { s in
            s.workers.compactMap { $0.report?.labels?.deadLetters }.reduce(0, +) == 1
        }
        #expect(dead.workers.allSatisfy { ($0.report?.labels?.pending ?? 0) == 0 })
        for w in ws { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
    }

    @Test("the fraud example of docs/CONFIG.md end to end: payments scored at once, chargebacks days later, payments without one learnt as legitimate after 30 days; the model separates fraud (ROC AUC > 0.8)")
    func fraud() throws {
        let doc = try String(contentsOfFile: repoRoot + "/docs/CONFIG.md", encoding: .utf8)
        let start = try #require(doc.range(of: "<!-- fraud-example -->\n```toml\n"))
        let end = try #require(doc.range(of: "```\n<!-- /fraud-example -->"))
        let example = String(doc[start.upperBound..<end.lowerBound])
        let cluster = try Cluster.start(config: example.replacingOccurrences(of: "[kafka]\n", with: "[kafka]\npartitions = 2\n")
                                        + "\n[worker]\nbatch_size = 20\n")
        var seed: UInt64 = 5
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        let day: Int64 = 86_400_000, base: Int64 = 1_796_000_000_000
        let n = 3000
        var records: [(time: Int64, topic: String, partition: Int32, value: String)] = []
        var chargebacks = 0
        var lastLabel: [Int32: Int64] = [:]
        var legit: [(Int32, Int64)] = []
        for i in 0..<n {
            let t = base + Int64(i) * 60 * day / Int64(n), p = Int32(i % 2)
            let fraud = next() % 10 == 0
            let amount = fraud ? 400 + Double(next() % 1600) : 5 + Double(next() % 300)
            records.append((t, "payments", p,
                            #"{"payment_id":"p\#(i)","card":"c\#(i % 100)","merchant":"m\#(next() % 40)","amount":\#(amount),"ts":\#(t)}"#))
            if fraud {
                let lt = t + day * Int64(1 + next() % 20)
                chargebacks += 1
                lastLabel[p] = max(lastLabel[p] ?? 0, lt)
                records.append((lt, "chargebacks", p, #"{"payment_id":"p\#(i)","fraud":1,"ts":\#(lt)}"#))
            } else {
                legit.append((p, t))
            }
        }
        let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap, "linger.ms": "5"]))
        for (k, r) in records.sorted(by: { $0.time < $1.time }).enumerated() {
            try producer.produce(topic: r.topic, partition: r.partition, key: [], value: Array(r.value.utf8), tag: k)
        }
        #expect(producer.drain(timeoutMs: 10_000) { _ in } == 0)
        // Learnt as legitimate: payments the chargeback stream of their partition passed by 30 days.
        let negatives = legit.filter { $0.1 + 30 * day < lastLabel[$0.0]! }.count
        let w = try cluster.worker("w")
        let s = try cluster.waitFor(seconds: 90, "every chargeback joined and the 30-day expiries learnt") { s in
            guard let l = s.workers.first?.report?.labels else { return false }
            return l.joined >= Int64(chargebacks) && l.expired >= Int64(negatives) && s.totalProcessed == Int64(n)
        }
        let report = try #require(s.workers.first?.report)
        let l = try #require(report.labels)
        #expect(l.joined == Int64(chargebacks) && l.expired == Int64(negatives) && l.unknown == 0)
        #expect(report.labelled == Int64(chargebacks + negatives), "chargebacks and 30-day negatives learnt")
        #expect((report.metrics["roc_auc"] ?? 0) > 0.8, "\(report.metrics)")
        #expect(s.totalDeadLetters == 0)
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }

    @Test("a labels topic that does not exist never stalls the input: after 10 s without an answer its partitions are scored, and the worker says why")
    func missingLabelsTopic() throws {
        // The broker outlives the coordinator and has no labels topic (the embedded broker
        // answers no CreateTopics).
        let path = NSTemporaryDirectory() + "nolabels-\(getpid()).conf"
        try "[kafka]\npartitions = 2".write(toFile: path, atomically: true, encoding: .utf8)
        let broker = try Proc("broker", ["broker", "--config", path, "--brokers", "1"])
        let bootstrap = String(try #require(broker.readLine()).dropFirst("bootstrap ".count))
        let cluster = try Cluster.start(config: """
        [kafka]
        bootstrap = "\(bootstrap)"
        [features]
        aggregates = []
        [model]
        sync_interval_ms = 0
        [labels]
        topic = "no-such-labels"
        """)
        let w = try cluster.worker("w")
        try cluster.waitFor(seconds: 30, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let gen = try Proc("produce", ["produce", "--bootstrap", bootstrap, "--count", "500"])
        #expect(gen.wait(seconds: 60) == 0)
        try cluster.waitFor(seconds: 60, "every event scored") { $0.totalProcessed == 500 }
        #expect(w.log.contains("has not answered in 10 s"), "\(w.log)")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}
