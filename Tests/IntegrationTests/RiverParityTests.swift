import Foundation
import Testing
import Wire

/// Issue 5's parity check: River (Python, in CI) and one Tributary worker, fed the same
/// stream in the same order through Kafka, give the same progressive accuracy and log loss
/// (within 0.5 point) with StandardScaler | LogisticRegression (SGD, lr 0.01).
@Suite("River parity", .serialized)
struct RiverParityTests {
    struct Reference: Decodable {
        var accuracy: Double
        var logloss: Double
        var n: Int
        var features: [String]
    }

    func river(_ dataset: String, n: Int, file: String, keys: Int = 1) throws -> Reference {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repoRoot + "/tools/river_reference.py", dataset, file, "--keys", String(keys)]
            + (n > 0 ? ["--n", String(n)] : [])
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "river: \(text)")
        return try JSONDecoder().decode(Reference.self, from: Data(line.dropFirst(7).utf8))
    }

    @Test("progressive accuracy and log loss equal River's", arguments: [("phishing", 0), ("hyperplane", 100_000)])
    func parity(dataset: String, n: Int) throws {
        let file = NSTemporaryDirectory() + "river-\(dataset)-\(getpid()).jsonl"
        let ref = try river(dataset, n: n, file: file)
        let numeric = ref.features.map { "\"\($0)\"" }.joined(separator: ", ")
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 1
        [features]
        key = "user"
        timestamp = ""
        label = "y"
        numeric = [\(numeric)]
        aggregates = []
        [model]
        learning_rate = 0.01
        sync_interval_ms = 0
        """)
        let worker = try cluster.worker("parity")
        try cluster.waitFor(seconds: 20, "the worker owns the partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        // Bounded rate: the mock broker keeps ~5 MB per partition, so the worker must read
        // as it goes (a record dropped unread would show as a count mismatch below).
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--file", file, "--rate", "8000"])
        #expect(gen.wait(seconds: 180) == 0, "\(gen.log)")
        let s = try cluster.waitFor(seconds: 60, "all \(ref.n) events learnt") { s in
            (s.workers.first?.report?.labelled ?? 0) >= Int64(ref.n)
        }
        let r = try #require(s.workers.first?.report)
        #expect(r.labelled == Int64(ref.n) && r.deadLetters == 0 && r.skippedOffsets == 0)
        print("parity \(dataset) (\(ref.n) events): Tributary accuracy \(r.accuracy) log loss \(r.logLoss); River accuracy \(ref.accuracy) log loss \(ref.logloss)")
        #expect(abs(r.accuracy - ref.accuracy) <= 0.005, "accuracy \(r.accuracy) vs River \(ref.accuracy)")
        #expect(abs(r.logLoss - ref.logloss) <= 0.005, "log loss \(r.logLoss) vs River \(ref.logloss)")
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 20) == 0)
    }

    /// Runs a River reference tool writing the stream to a file; its RESULT line decoded.
    func reference<R: Decodable>(_ tool: String, _ args: String = "", as: R.Type) throws -> (R, file: String) {
        let file = NSTemporaryDirectory() + "river-\(tool)-\(getpid())-\(UUID().uuidString.prefix(6)).jsonl"
        let out = file + ".result"
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(sh("python3 '\(repoRoot)/tools/\(tool)' '\(file)' \(args) > '\(out)'") == 0)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(text)")
        return (try JSONDecoder().decode(R.self, from: Data(line.dropFirst(7).utf8)), file)
    }

    /// One worker on one partition learns `file` (its "y" the label, `numeric` its inputs)
    /// with `model` as the `[model]` section; its report once all `n` events are learnt.
    func learnOnOneWorker(_ file: String, n: Int, numeric: [String], model: String) throws -> WorkerReport {
        defer { try? FileManager.default.removeItem(atPath: file) }
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 1
        [features]
        key = "user"
        timestamp = ""
        label = "y"
        numeric = [\(numeric.map { "\"\($0)\"" }.joined(separator: ", "))]
        aggregates = []
        [model]
        learning_rate = 0.01
        sync_interval_ms = 0
        \(model)
        """)
        let worker = try cluster.worker("parity")
        defer { worker.signal(SIGTERM); #expect(worker.wait(seconds: 20) == 0) }
        try cluster.waitFor(seconds: 20, "the worker owns the partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--file", file])
        #expect(gen.wait(seconds: 60) == 0, "\(gen.log)")
        let s = try cluster.waitFor(seconds: 60, "all \(n) events learnt") { ($0.workers.first?.report?.labelled ?? 0) >= Int64(n) }
        let r = try #require(s.workers.first?.report)
        #expect(r.labelled == Int64(n) && r.deadLetters == 0)
        return r
    }

    @Test("linear regression equals River's LinearRegression on TrumpApproval, with its default intercept_lr and with intercept_lr = 0.1 ([model] intercept_lr)",
          arguments: [0.01, 0.1])
    func regressionParity(interceptLR: Double) throws {
        struct Ref: Decodable { var mae: Double; var rmse: Double; var n: Int; var features: [String] }
        let (ref, file) = try reference("river_regression.py", "--intercept-lr \(interceptLR)", as: Ref.self)
        let r = try learnOnOneWorker(file, n: ref.n, numeric: ref.features,
                                     model: "type = \"linear_regression\"\nintercept_lr = \(interceptLR)")
        let mae = r.metrics["mae"] ?? .nan, rmse = r.metrics["rmse"] ?? .nan
        print("regression parity (intercept_lr \(interceptLR)): Tributary MAE \(mae) RMSE \(rmse); River MAE \(ref.mae) RMSE \(ref.rmse)")
        #expect(abs(mae - ref.mae) <= 1e-9 * max(1, ref.mae), "MAE \(mae) vs River \(ref.mae)")
        #expect(abs(rmse - ref.rmse) <= 1e-9 * max(1, ref.rmse), "RMSE \(rmse) vs River \(ref.rmse)")
    }

    @Test("softmax regression with intercept = false equals River's SoftmaxRegression (its classes registered up front) on ImageSegments, 7 classes")
    func softmaxParity() throws {
        struct Ref: Decodable { var accuracy: Double; var logloss: Double; var n: Int; var features: [String]; var classes: [String] }
        let (ref, file) = try reference("river_multiclass.py", as: Ref.self)
        // River's scaler exactly (clip_sigma = 0): ImageSegments has values beyond 30 standard deviations.
        let r = try learnOnOneWorker(file, n: ref.n, numeric: ref.features, model: """
            type = "softmax_regression"
            classes = [\(ref.classes.map { "\"\($0)\"" }.joined(separator: ", "))]
            intercept = false
            clip_sigma = 0
            """)
        print("softmax parity (ImageSegments): Tributary accuracy \(r.accuracy) cross-entropy \(r.logLoss); River accuracy \(ref.accuracy) cross-entropy \(ref.logloss)")
        #expect(abs(r.accuracy - ref.accuracy) <= 1e-9, "accuracy \(r.accuracy) vs River \(ref.accuracy)")
        #expect(abs(r.logLoss - ref.logloss) <= 1e-9, "cross-entropy \(r.logLoss) vs River \(ref.logloss)")
    }

    /// Issue 6's quality bar: several workers, each learning on its share of the partitions and
    /// averaging every sync interval, score within 1 point of one worker that saw the whole
    /// stream (which is River's figure exactly, per the parity test above).
    // Hyperplane (100,000 events) runs with the default rule (sample-weighted average).
    // Phishing is only 1,250 events, so progressive accuracy there is mostly the early learning
    // phase. Averaging N workers' deltas moves the model by about 1/N of their joint progress,
    // which costs 1–2 points on so short a stream (seen: 4 workers 0.8816 vs 0.8928). Summing
    // them (`merge = "sum"`) is sequential SGD on a model at most one version stale: 2 workers
    // 0.8936, 4 workers 0.8888. So Phishing runs with merge = "sum", at 60 events/s and a 25 ms
    // sync: ~550 versions (~2 events per version). At 500 events/s only ~25 versions happened,
    // and 4 workers scored 0.876. docs/CONFIG.md gives this advice for short or fast-changing
    // streams. This test found that the robust bounds refused honest scaler parts of such tiny
    // deltas (rounding put inputs that stayed 0 a few ulps below 0: 4 workers 0.8776–0.8824);
    // with the tolerance, 2 workers 0.8888–0.8904 and 4 workers 0.8872–0.8888, none refused.
    /// A 4-partition cluster learning the reference dataset's numeric features, stateless.
    static func clusterConfig(_ ref: Reference, syncMs: Int, merge: String? = nil, syncSamples: Int? = nil, referenceSample: Double? = nil) -> String {
        let numeric = ref.features.map { "\"\($0)\"" }.joined(separator: ", ")
        return """
        [kafka]
        partitions = 4
        [features]
        timestamp = ""
        numeric = [\(numeric)]
        aggregates = []
        [model]
        sync_interval_ms = \(syncMs)
        \(merge.map { "merge = \"\($0)\"" } ?? "")
        \(syncSamples.map { "sync_every_samples = \($0)" } ?? "")
        \(referenceSample.map { "reference_sample = \($0)" } ?? "")
        """
    }

    @Test("averaged cluster accuracy within 1 point of a single worker", arguments: [
        ("hyperplane", 100_000, 2), ("hyperplane", 100_000, 4), ("phishing", 0, 2), ("phishing", 0, 4),
    ])
    func averagedQuality(dataset: String, n: Int, workers: Int) throws {
        let file = NSTemporaryDirectory() + "quality-\(dataset)-\(getpid()).jsonl"
        let ref = try river(dataset, n: n, file: file, keys: 64)
        let small = ref.n < 10_000
        // A small stream syncs by samples (issue 25): every 5 labelled samples a worker sends
        // its delta and the coordinator merges at once (the seeded replay in BenchSmokeTests
        // shows why this holds within 0.5 points; live runs add the order's luck).
        // Every key sampled for the N-vs-1 monitor on the small stream: the coordinator's one
        // learner then sees every event, in the order the deltas brought them.
        let (s, _) = try learnAll(ref, file: file, config: Self.clusterConfig(ref, syncMs: small ? 1000 : 200, syncSamples: small ? 5 : nil,
                                                                             referenceSample: small ? 1 : nil),
                                  workers: (1...workers).map { ("q\($0)", []) }, rate: small ? 60 : 8000,
                                  // The last few samples travel with the deltas of the next sync interval.
                                  also: { !small || $0.reference?.samples == ref.n })
        if small {
            // The monitor scored the cluster's own predictions of every event (its accuracy on
            // them is the workers' progressive accuracy), and one learner on the same events
            // lands near River's single learner (same events, arrival order).
            let r = try #require(s.reference, "no N-vs-1 report in status")
            print("N-vs-1 on \(dataset), \(workers) workers: \(r)")
            #expect(r.samples == ref.n && r.refused == 0, "\(r)")
            #expect(abs((r.clusterAccuracy ?? 0) - s.accuracy) < 1e-9, "\(r) vs status accuracy \(s.accuracy)")
            #expect(abs((r.referenceAccuracy ?? 0) - ref.accuracy) <= 0.01, "\(r) vs River \(ref.accuracy)")
        }
        #expect(s.workers.compactMap(\.report).allSatisfy { $0.skippedOffsets == 0 })
        #expect(s.modelVersion > 1, "averaging happened")
        #expect(s.rejectedDeltas == 0 && s.rejectedScalers == 0, "honest workers' deltas or scaler parts rejected")
        print("averaged \(dataset) with \(workers) workers: accuracy \(s.accuracy) (versions \(s.modelVersion), clipped \(s.clippedDeltas), rejected \(s.rejectedDeltas)/\(s.rejectedScalers)); single worker \(ref.accuracy)")
        #expect(abs(s.accuracy - ref.accuracy) <= 0.01, "cluster \(s.accuracy) vs single worker \(ref.accuracy)")
    }

    /// A cluster of `clusterConfig` with these workers (id, extra flags) learns the whole
    /// file at `rate` events/s. Returns the status once every event was learnt, and the
    /// workers, stopped by SIGTERM (each must exit 0), for their logs.
    func learnAll(_ ref: Reference, file: String, config: String, workers: [(String, [String])],
                  rate: Int, also: @escaping (ClusterStatus) -> Bool = { _ in true }) throws -> (ClusterStatus, [Proc]) {
        let cluster = try Cluster.start(config: config)
        let ws = try workers.map { try cluster.worker($0.0, args: $0.1) }
        try cluster.waitFor(seconds: 20, "\(ws.count) workers sharing 4 partitions") { s in
            s.workers.count == ws.count && s.unassigned.isEmpty && s.workers.allSatisfy { !$0.partitions.isEmpty }
        }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--file", file, "--rate", String(rate)])
        #expect(gen.wait(seconds: 180) == 0, "\(gen.log)")
        let s = try cluster.waitFor(seconds: 60, "all \(ref.n) events learnt") { s in
            s.workers.compactMap(\.report).reduce(0) { $0 + $1.labelled } >= Int64(ref.n) && also(s)
        }
        for w in ws { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0, "\(w.name) did not exit 0") }
        return (s, ws)
    }

    /// Issue 10: one worker sends poisoned deltas (by turns NaN, and parameters × 1e6 claiming
    /// 1000 × its samples with its scaler sums × 1e6), next to two honest workers. The
    /// robust merge rejects or clips them; the cluster's progressive accuracy must stay within
    /// 1 point of the same cluster with three honest workers.
    @Test("a worker sending NaN and huge deltas moves the cluster's accuracy by less than 1 point")
    func poisoningWorker() throws {
        let file = NSTemporaryDirectory() + "poison-hyperplane-\(getpid()).jsonl"
        let ref = try river("hyperplane", n: 60_000, file: file, keys: 64)
        func run(poisoned: Bool) throws -> ClusterStatus {
            let (s, ws) = try learnAll(ref, file: file, config: Self.clusterConfig(ref, syncMs: 200),
                                       workers: [("h1", []), ("h2", []), ("p1", poisoned ? ["--inject-delta-fault", "mixed"] : [])],
                                       rate: 8000)
            if poisoned {
                #expect(ws[2].log.contains("fault injection: model delta"), "the poisoner sent poisoned deltas")
            }
            return s
        }
        let clean = try run(poisoned: false)
        let poisoned = try run(poisoned: true)
        print("poisoning: clean accuracy \(clean.accuracy), with a poisoner \(poisoned.accuracy) (rejected \(poisoned.rejectedDeltas), clipped \(poisoned.clippedDeltas))")
        #expect(poisoned.rejectedDeltas + poisoned.clippedDeltas > 0, "the poisoned deltas were caught")
        #expect(poisoned.accuracy > 0.9, "the global model was not destroyed: \(poisoned.accuracy)")
        #expect(abs(poisoned.accuracy - clean.accuracy) <= 0.01, "with a poisoner \(poisoned.accuracy) vs clean \(clean.accuracy)")
    }
}
