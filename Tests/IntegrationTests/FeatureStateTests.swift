import Foundation
import Testing
import Features

/// Issue 4 with real processes: feature state survives a partition moving to another
/// worker (changelog restore), and per-key aggregates agree with River's.
@Suite("Feature state", .serialized)
struct FeatureStateTests {
    /// Every kind of state: unwindowed stats, all four windows, target encoding, a TTL that
    /// expires keys, emitted features. The synthetic stream's event time advances 1 ms per
    /// event, so 10,000 events span 10 s of event time.
    static let config = """
    [kafka]
    partitions = 4
    [coordinator]
    heartbeat_ms = 250
    failure_timeout_ms = 2000
    [features]
    numeric = ["x.f0", "x.f1"]
    emit = true
    ttl_s = 1.5
    aggregates = [
      { field = "x.f0", stats = ["count", "mean", "variance", "ewma", "since_last", "distinct"] },
      { field = "x.f1", stats = ["sum", "max"], window = "tumbling", size_s = 0.5 },
      { field = "x.f1", stats = ["count", "mean"], window = "hopping", size_s = 1, hop_s = 0.25 },
      { field = "x.f2", stats = ["mean", "min"], window = "sliding", size_s = 0.4 },
      { field = "x.f3", stats = ["count", "sum"], window = "session", gap_s = 0.8 },
    ]
    target_encoding = [{ field = "user", smoothing = 5 }]
    [model]
    sync_interval_ms = 0
    """

    /// partition -> offset -> every emitted feature vector for it (duplicates included).
    func featuresByOffset(_ cluster: Cluster) throws -> [Int: [Int: [[Double]]]] {
        var out: [Int: [Int: [[Double]]]] = [:]
        for r in try readAll(bootstrap: cluster.bootstrap, topic: "predictions") {
            guard let j = r.json, let p = j["partition"] as? Int, let o = j["offset"] as? Int,
                  let f = j["features"] as? [Double] else { continue }
            out[p, default: [:]][o, default: []].append(f)
        }
        return out
    }

    @Test("kill -9 the owner mid-stream: every feature computed after the move equals an uninterrupted single-worker run")
    func moveKeepsFeatures() throws {
        let args = ["--count", "10000", "--users", "300", "--seed", "11"]
        // Reference: one worker, no faults.
        let reference: [Int: [Int: [[Double]]]]
        do {
            let cluster = try Cluster.start(config: Self.config)
            let w = try cluster.worker("ref")
            try cluster.waitFor(seconds: 20, "the worker owns all partitions") { $0.unassigned.isEmpty && $0.workers.count == 1 }
            let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap] + args)
            #expect(gen.wait(seconds: 60) == 0)
            let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
            try cluster.waitCommitted(highs)
            reference = try featuresByOffset(cluster)
            w.signal(SIGTERM)
            #expect(w.wait(seconds: 20) == 0)
        }
        // The same input, two workers, one killed while the stream runs.
        let cluster = try Cluster.start(config: Self.config)
        let a = try cluster.worker("a")
        let b = try cluster.worker("b")
        try cluster.waitFor(seconds: 20, "2 workers own all partitions") { s in
            s.unassigned.isEmpty && s.workers.count == 2 && s.workers.allSatisfy { $0.partitions.count == 2 }
        }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--rate", "2500"] + args)
        // Kill once the victim has checkpointed its state at least once (commits wait for the
        // changelog), while the stream is still running.
        let before = try cluster.waitFor(seconds: 30, "worker a committed on all its partitions") { s in
            guard let r = s.workers.first(where: { $0.workerId == "a" })?.report, r.partitions.count == 2 else { return false }
            return r.partitions.allSatisfy { $0.committed > 0 }
        }
        let victimParts = Set(before.workers.first { $0.workerId == "a" }!.partitions.map(\.partition))
        usleep(500_000)
        a.signal(SIGKILL)
        #expect(gen.wait(seconds: 60) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let status = try cluster.waitCommitted(highs)
        let moved = try featuresByOffset(cluster)
        var missing = 0, differing = 0, compared = 0, duplicates = 0
        var firstDiff = ""
        for (p, high) in highs {
            for o in 0..<Int(high) {
                guard let ref = reference[Int(p)]?[o]?.first else { missing += 1; continue }
                guard let got = moved[Int(p)]?[o] else { missing += 1; continue }
                duplicates += got.count - 1
                for f in got {
                    compared += 1
                    if f != ref {
                        differing += 1
                        if firstDiff.isEmpty { firstDiff = "partition \(p) offset \(o): \(f) vs \(ref)" }
                    }
                }
            }
        }
        #expect(missing == 0, "\(missing) input offsets without a prediction")
        #expect(differing == 0, "\(differing) of \(compared) feature vectors differ; first: \(firstDiff)")
        #expect(compared >= 10_000)
        // The survivor restored the victim's partitions from the changelog.
        let survivor = try #require(status.workers.first { $0.workerId == "b" }?.report)
        let restored = survivor.partitions.filter { victimParts.contains($0.partition) }
        #expect(restored.count == victimParts.count)
        #expect(restored.allSatisfy { $0.restoredKeys > 0 }, "\(restored.map { ($0.partition, $0.restoredKeys) })")
        #expect(survivor.expiredKeys > 0)
        b.signal(SIGTERM)
        #expect(b.wait(seconds: 20) == 0)
    }

    @Test("per-key running count, mean, variance and EWMA equal River's Agg to 1e-9")
    func riverAgg() throws {
        var spec = FeatureSpec()
        spec.key = "user"
        spec.numeric = []
        spec.aggregates = [.init(field: "x", stats: [.count, .mean, .variance, .ewma], alpha: 0.3)]
        var partition = PartitionFeatures(spec: spec)
        // Values over several magnitudes (the variance's cancellation is where formulas differ).
        var rng = SystemRandomNumberGenerator()
        var lines: [String] = []
        var ours: [[Double]] = []
        for i in 0..<20_000 {
            let scale = [1e-3, 1.0, 1e3, 1e6][i % 4]
            let x = (Double.random(in: -1...1, using: &rng) + 5) * scale
            let line = #"{"user": "u\#(Int.random(in: 0..<200, using: &rng))", "x": \#(x)}"#
            lines.append(line)
            try partition.feed(Array(line.utf8))
            ours.append(partition.dense)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tributary-agg-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let input = dir.appendingPathComponent("events.jsonl")
        try lines.joined(separator: "\n").appending("\n").write(to: input, atomically: true, encoding: .utf8)
        let output = dir.appendingPathComponent("river.txt")
        #expect(sh("python3 \(repoRoot)/tools/river_agg.py < \(input.path) > \(output.path)") == 0)
        let river = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ").map { Double($0)! } }
        #expect(river.count == ours.count)
        var worst = 0.0
        for (r, o) in zip(river, ours) {
            for j in 0..<4 {
                let err = abs(r[j] - o[j]) / max(1, abs(r[j]))
                worst = max(worst, err)
            }
        }
        #expect(worst <= 1e-9, "largest relative difference \(worst)")
    }
}
