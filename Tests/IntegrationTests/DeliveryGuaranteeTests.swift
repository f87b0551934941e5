import Foundation
import Testing
import Config
import Features
import Wire

/// Issue 7 with real processes: what happens to every input record when workers are killed
/// with SIGKILL at random points of a 20,000-record stream, and (exactly-once, on Tansu)
/// when a frozen worker comes back as a zombie after its partitions moved.
@Suite("Delivery guarantees", .serialized)
struct DeliveryGuaranteeTests {
    static func config(bootstrap: String? = nil, exactlyOnce: Bool = false) -> String {
        """
        [kafka]
        partitions = 4
        \(bootstrap.map { "bootstrap = \"\($0)\"" } ?? "")
        \(exactlyOnce ? "guarantee = \"exactly_once\"" : "")
        [kafka.consumer]
        "fetch.wait.max.ms" = 10
        [coordinator]
        heartbeat_ms = 250
        failure_timeout_ms = 2000
        [features]
        numeric = ["x.f0", "x.f1"]
        emit = true
        aggregates = [
          { field = "x.f0", stats = ["count", "mean", "variance", "ewma"] },
          { field = "x.f1", stats = ["sum", "max"], window = "tumbling", size_s = 0.5 },
          { field = "x.f2", stats = ["mean"], window = "sliding", size_s = 0.4 },
        ]
        target_encoding = [{ field = "user", smoothing = 5 }]
        [model]
        sync_interval_ms = 500
        """
    }

    struct Outcome {
        /// partition -> offset -> every emitted feature vector (duplicates included).
        var features: [Int32: [Int64: [[Double]]]] = [:]
        /// partition -> offset -> "worker@epoch" of each prediction (to explain duplicates).
        var writers: [Int32: [Int64: [String]]] = [:]
        var expected: [Int32: [Int64: [Double]]] = [:]
        var inputCount = 0
        var zombieLog = ""
        /// What every worker logged (killed ones included).
        var workerLogs: [String] = []
        var status: ClusterStatus?
    }

    /// Two workers at all times; five times, at a random point, one of them is killed with
    /// SIGKILL and a new one started. With `zombie`, one worker is then frozen (SIGSTOP) until
    /// its partitions have moved and resumed (SIGCONT). Returns what the predictions say and
    /// what an uninterrupted computation of the features says.
    func run(_ cluster: Cluster, config: String, zombie: Bool) throws -> Outcome {
        var out = Outcome()
        var live = [try cluster.worker("w1"), try cluster.worker("w2")]
        var next = 3
        try cluster.waitFor(seconds: 30, "2 workers own all partitions") { s in
            s.unassigned.isEmpty && s.workers.filter { $0.state == .up }.count == 2
                && s.workers.allSatisfy { $0.state != .up || !$0.partitions.isEmpty }
        }
        // With a zombie, the last 4,000 records are produced while it is frozen and after:
        // it must hold an open transaction when it wakes, whatever the kills took.
        let zombieRecords = zombie ? 4000 : 0
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", String(20_000 - zombieRecords),
                                       "--users", "300", "--seed", "7", "--rate", "800"], env: cluster.env)
        var gens = [gen]
        var rng = SplitMix64(seed: 2026)
        var dead: [Proc] = []
        defer {
            if let dbg = ProcessInfo.processInfo.environment["EOS_DEBUG"] {
                for p in live + dead { try? p.log.write(toFile: "\(dbg)/\(p.name).log", atomically: true, encoding: .utf8) }
                try? cluster.coordinator.log.write(toFile: "\(dbg)/coordinator.log", atomically: true, encoding: .utf8)
            }
        }
        for _ in 0..<5 {
            usleep(UInt32(Double.random(in: 0.5...1.5, using: &rng) * 1_000_000))
            let victim = live.remove(at: Int.random(in: 0..<live.count, using: &rng))
            if zombie {
                // On Tansu the victim is frozen for 300 ms first, so that requests it already
                // sent complete before its connections close, as they do on Kafka. Tansu 0.6
                // drops a request whose connection closes while it is being handled; an
                // interrupted EndTxn was seen leaving the input offsets committed and the
                // transaction's outputs aborted (an ABORT marker after them). The worker
                // still dies at a random point of its code.
                victim.signal(SIGSTOP)
                usleep(300_000)
            }
            victim.signal(SIGKILL)
            _ = victim.wait(seconds: 5)
            dead.append(victim)
            live.append(try cluster.worker("w\(next)"))
            next += 1
            try cluster.waitFor(seconds: 30, "partitions owned by the 2 live workers") { s in
                Self.settled(s, live: live.map(\.name))
            }
        }
        if zombie {
            let z = live.removeFirst()
            let zid = z.name
            // The stream goes on in event time where the first part ended (earlier times would
            // be late records).
            #expect(gen.wait(seconds: 60) == 0, "produce failed: \(gen.log.suffix(1000))")
            gens.append(try Proc("produce-2", ["produce", "--bootstrap", cluster.bootstrap, "--count", String(zombieRecords),
                                               "--start-index", String(20_000 - zombieRecords),
                                               "--users", "300", "--seed", "8", "--rate", "400"], env: cluster.env))
            // A zombie only if it runs partitions, with transactions, when it is frozen: it
            // must hold partitions in the coordinator's map and have committed since.
            let committedBefore = try cluster.status().workers.first { $0.workerId == zid }?.report?.transactionsCommitted ?? 0
            try cluster.waitFor(seconds: 30, "the worker to be frozen runs partitions and commits") { s in
                Self.settled(s, live: live.map(\.name) + [zid])
                    && (s.workers.first { $0.workerId == zid }?.report.map { !$0.partitions.isEmpty && $0.transactionsCommitted > committedBefore } ?? false)
            }
            z.signal(SIGSTOP)
            // Frozen past the failure timeout: declared dead, its partitions move, and the new
            // owner's transactional producers fence it.
            try cluster.waitFor(seconds: 30, "the frozen worker's partitions moved") { s in
                s.unassigned.isEmpty && s.workers.first { $0.workerId == zid }?.state == .dead
                    && s.workers.filter { $0.state == .up }.allSatisfy { !$0.partitions.isEmpty }
            }
            live.append(try cluster.worker("w\(next)"))
            usleep(1_500_000)
            z.signal(SIGCONT)
            // It wakes with an open transaction and a lease long expired: it must give its
            // partitions up without committing (the broker refuses the fenced producer).
            let deadline = Date().addingTimeInterval(20)
            while !z.log.contains("without committing") && Date() < deadline { usleep(200_000) }
            out.zombieLog = z.log
            live.append(z)
        }
        for g in gens { #expect(g.wait(seconds: 120) == 0, "\(g.name) failed: \(g.log.suffix(1000))") }
        // Every input record, in partition order: the reference features come from them.
        let input = try readTopic(bootstrap: cluster.bootstrap, topic: "events")
        out.inputCount = input.count
        var counts: [Int32: Int64] = [:]
        let spec = try ClusterConfig.parse(config).features
        var byPartition: [Int32: PartitionFeatures] = [:]
        for r in input.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
            counts[r.partition] = r.offset + 1
            var f = byPartition[r.partition] ?? PartitionFeatures(spec: spec)
            try f.feed(r.value)
            out.expected[r.partition, default: [:]][r.offset] = f.dense
            byPartition[r.partition] = f
        }
        out.status = try cluster.waitCommitted(counts, seconds: 120)
        // Exactly-once: read_committed as the log's transaction markers define it (Tansu 0.6
        // writes them, but its fetch responses do not list aborted transactions, so its own
        // read_committed readers would also see the records of a worker killed mid-commit).
        for r in try readTopic(bootstrap: cluster.bootstrap, topic: "predictions", isolation: zombie ? "markers" : "read_committed") {
            guard let j = r.json, let p = j["partition"] as? Int, let o = j["offset"] as? Int,
                  let f = exactFeatures(r.value) else { continue }
            out.features[Int32(p), default: [:]][Int64(o), default: []].append(f)
            out.writers[Int32(p), default: [:]][Int64(o), default: []].append("\(j["worker"] ?? "?")@\(j["epoch"] ?? "?")")
        }
        if let dbg = ProcessInfo.processInfo.environment["EOS_DEBUG"] {
            _ = sh("python3 \(repoRoot)/tools/read_topic.py --bootstrap \(cluster.bootstrap) --topic predictions --isolation markers --trace > \(dbg)/markers.jsonl 2> \(dbg)/markers.err")
            _ = sh("python3 \(repoRoot)/tools/read_topic.py --bootstrap \(cluster.bootstrap) --topic predictions --isolation read_uncommitted > \(dbg)/uncommitted.jsonl")
            _ = sh("python3 \(repoRoot)/tools/read_topic.py --bootstrap \(cluster.bootstrap) --topic events --isolation read_uncommitted > \(dbg)/events.jsonl")
        }
        for w in live {
            w.signal(SIGTERM)
            #expect(w.wait(seconds: 30) == 0, "\(w.name) did not exit cleanly: \(w.log.suffix(2000))")
        }
        out.workerLogs = (live + dead).map(\.log)
        return out
    }

    /// Membership at rest: the listed workers are up (no suspects) and each runs partitions, and
    /// every partition has an owner. Before the next kill or freeze: a worker frozen while it
    /// owns nothing is no zombie.
    static func settled(_ s: ClusterStatus, live: [String]) -> Bool {
        let up = s.workers.filter { $0.state == .up }
        return s.unassigned.isEmpty && !s.workers.contains { $0.state == .suspect }
            && Set(up.map(\.workerId)) == Set(live) && up.allSatisfy { !$0.partitions.isEmpty }
    }

    /// The "features" array of a prediction, each number read with Swift's correctly rounded
    /// `Double(String)`: Foundation's JSON parser was seen 1 ulp off, which exact comparison
    /// of the writer's shortest round-trip digits must not be blamed for.
    func exactFeatures(_ value: [UInt8]) -> [Double]? {
        let text = String(decoding: value, as: UTF8.self)
        guard let start = text.range(of: "\"features\":["), let end = text[start.upperBound...].firstIndex(of: "]") else { return nil }
        let items = text[start.upperBound..<end].split(separator: ",")
        let numbers = items.compactMap { Double($0) }
        return numbers.count == items.count ? numbers : nil
    }

    /// Offsets without a prediction, with more than one, and feature vectors that differ from
    /// the uninterrupted computation (with the first difference).
    func audit(_ o: Outcome, excused: Set<[Int64]> = []) -> (missing: Int, duplicated: Int, differing: Int, compared: Int, first: String, excused: Int) {
        var missing = 0, duplicated = 0, differing = 0, compared = 0, excusedMissing = 0
        var first = ""
        for (p, offsets) in o.expected {
            for (offset, want) in offsets {
                let got = o.features[p]?[offset] ?? []
                if got.isEmpty {
                    if excused.contains([Int64(p), offset]) { excusedMissing += 1 } else { missing += 1 }
                }
                if got.count > 1 {
                    duplicated += 1
                    if duplicated <= 5 { first += " duplicate p\(p) o\(offset): \(o.writers[p]?[offset] ?? [])" }
                }
                for f in got {
                    compared += 1
                    if f != want {
                        differing += 1
                        if differing == 1 { first += " partition \(p) offset \(offset): \(f) vs \(want)" }
                    }
                }
            }
        }
        return (missing, duplicated, differing, compared, first, excusedMissing)
    }

    /// Offsets whose predictions a worker reported as aborted and not replayed (a restore
    /// that found the changelog ahead of the committed offset), as [partition, offset].
    func reportedAborted(_ logs: [String]) -> Set<[Int64]> {
        var out = Set<[Int64]>()
        let pattern = /predictions for offsets (\d+)\.\.<(\d+) of partition (\d+) were aborted/
        for log in logs {
            for m in log.matches(of: pattern) {
                guard let a = Int64(m.1), let b = Int64(m.2), let p = Int64(m.3), a < b else { continue }
                for o in a..<b { out.insert([p, o]) }
            }
        }
        return out
    }

    @Test("at-least-once: 5 × kill -9 during 20,000 records; every offset has a prediction and every feature vector equals a fault-free run")
    func atLeastOnceKills() throws {
        let config = Self.config()
        try atLeastOnce(try Cluster.start(config: config), config: config)
    }

    func atLeastOnce(_ cluster: Cluster, config: String) throws {
        let o = try run(cluster, config: config, zombie: false)
        #expect(o.inputCount == 20_000)
        let a = audit(o)
        #expect(a.missing == 0, "\(a.missing) input offsets without a prediction")
        #expect(a.differing == 0, "\(a.differing) of \(a.compared) feature vectors differ; first: \(a.first)")
        #expect(a.compared >= 20_000)
    }

    @Test("at-least-once on Tansu (a real Kafka-protocol broker): 5 × kill -9 during 20,000 records; every offset has a prediction and every feature vector equals a fault-free run")
    func atLeastOnceKillsOnTansu() throws {
        let tansu = try Tansu()
        let config = Self.config(bootstrap: tansu.bootstrap)
        try atLeastOnce(try Cluster.start(config: config, env: tansu.env), config: config)
    }

    @Test("exactly-once on Tansu: 5 × kill -9 and a SIGSTOP zombie; a read_committed reader sees exactly one prediction per offset")
    func exactlyOnceKillsAndZombie() throws {
        let tansu = try Tansu()
        let config = Self.config(bootstrap: tansu.bootstrap, exactlyOnce: true)
        let cluster = try Cluster.start(config: config, env: tansu.env)
        let o = try run(cluster, config: config, zombie: true)
        #expect(o.inputCount == 20_000)
        // Tansu 0.6 shows a transaction's records to read_committed readers even when it
        // aborted. When a worker is killed while its commit flushes, the next owner's
        // changelog restore (a read_committed consumer) takes that transaction's state
        // capture as committed and resumes after it: the state is right, but the
        // transaction's predictions were aborted. The worker detects it (capture ahead of the
        // committed input offset) and logs the offsets; those, and only those, are excused
        // here as a known broker gap. Any other missing offset fails the test.
        let excused = reportedAborted(o.workerLogs)
        let a = audit(o, excused: excused)
        #expect(a.missing == 0, "\(a.missing) input offsets without a committed prediction (not reported by any worker)")
        if a.excused > 0 {
            withKnownIssue("Tansu 0.6 does not filter aborted transactions for read_committed readers (the changelog restore among them)", isIntermittent: true) {
                #expect(a.excused == 0, "\(a.excused) offsets' predictions aborted and reported by a worker")
            }
        }
        #expect(a.duplicated == 0, "\(a.duplicated) input offsets with more than one committed prediction: \(a.first)")
        #expect(a.differing == 0, "\(a.differing) of \(a.compared) feature vectors differ; first: \(a.first)")
        // The zombie woke up, tried to commit what it had, was refused, and gave up.
        #expect(o.zombieLog.contains("without committing"), "zombie log: \(o.zombieLog.suffix(3000))")
    }
}
