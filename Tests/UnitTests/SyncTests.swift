import Testing
@testable import Coordinator
@testable import Worker
import Wire
import Models
import Config

@Suite("Parameter averaging")
struct SyncTests {
    @Test("aggregator merges pending deltas into the next version, sample-weighted")
    func aggregator() {
        var a = ModelAggregator(parameterCount: 3, syncIntervalMs: 1000, now: 0)  // 3 parameters
        let r1 = a.receive(ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 1, delta: [3, 0, 0]))
        let r2 = a.receive(ModelDelta(workerId: "b", seq: 4, baseVersion: 0, samples: 3, delta: [-1, 4, 0]))
        #expect(r1.isEmpty && r2.isEmpty)
        let early = a.tick(now: 500)
        #expect(early.isEmpty)  // not before the interval
        let d = a.tick(now: 1000)
        #expect(d == [.publish(ModelUpdate(version: 1, contributions: ["a": 1, "b": 4], parameters: [0, 3, 0]))])
        let idle = a.tick(now: 2500)
        #expect(idle.isEmpty)  // nothing pending: no empty versions
    }

    @Test("sync_every_samples: an eager aggregator merges what is pending at every tick, the interval not awaited")
    func eagerAggregator() throws {
        let c = try ClusterConfig.parse("[model]\nsync_every_samples = 5\nsync_interval_ms = 0")
        #expect(c.model.syncEverySamples == 5 && c.model.syncIntervalMs == 0)
        var a = ModelAggregator(parameterCount: 2, syncIntervalMs: c.model.syncIntervalMs, eager: (c.model.syncEverySamples ?? 0) > 0, now: 0)
        #expect(a.tick(now: 1).isEmpty)  // nothing pending: no empty versions
        _ = a.receive(ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 5, delta: [1, 0]))
        #expect(a.tick(now: 1) == [.publish(ModelUpdate(version: 1, contributions: ["a": 1], parameters: [1, 0]))])
        _ = a.receive(ModelDelta(workerId: "a", seq: 2, baseVersion: 1, samples: 5, delta: [1, 0]))
        _ = a.receive(ModelDelta(workerId: "b", seq: 1, baseVersion: 0, samples: 15, delta: [0, 2.5]))
        #expect(a.tick(now: 1) == [.publish(ModelUpdate(version: 2, contributions: ["a": 2, "b": 1], parameters: [1.25, 1.875]))])
    }

    @Test("server step: v = momentum * v + merged change, w += learning_rate * v (FedAvgM); the defaults keep the merge as it is")
    func serverStep() throws {
        let c = try ClusterConfig.parse("[model]\nserver_learning_rate = 2\nserver_momentum = 0.5")
        #expect(c.model.serverStep == ServerStep(learningRate: 2, momentum: 0.5))
        #expect(try ClusterConfig.parse("").model.serverStep.isPlain)
        var a = ModelAggregator(parameterCount: 2, syncIntervalMs: 10, now: 0, server: c.model.serverStep)
        _ = a.receive(ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 1, delta: [1, -2]))
        _ = a.tick(now: 10)
        #expect(a.parameters == [2, -4])  // v = (1, -2), w = 0 + 2v
        _ = a.receive(ModelDelta(workerId: "a", seq: 2, baseVersion: 1, samples: 1, delta: [1, 0]))
        _ = a.tick(now: 20)
        #expect(a.parameters == [5.0, -6.0])  // v = 0.5 (1, -2) + (1, 0) = (1.5, -1); w = (2, -4) + 2v
        // A reset (import, rollback) forgets the velocity: the next step is the merge alone again.
        _ = a.replace(with: [0, 0])
        _ = a.receive(ModelDelta(workerId: "a", seq: 3, baseVersion: 3, samples: 1, delta: [1, 1]))
        _ = a.tick(now: 30)
        #expect(a.parameters == [2, 2])
    }

    @Test("after a restart, a worker that held partitions re-registering makes the next merge due at once")
    func mergeSoonAfterRestart() {
        var a = ModelAggregator(parameterCount: 1, syncIntervalMs: 1000, now: 10_000)
        _ = a.receive(ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 1, delta: [1]))
        #expect(a.tick(now: 10_200).isEmpty, "an interval from the start, as usual")
        a.mergeSoon(now: 10_200)
        #expect(a.tick(now: 10_201).count == 1)
        _ = a.receive(ModelDelta(workerId: "a", seq: 2, baseVersion: 1, samples: 1, delta: [1]))
        #expect(a.tick(now: 10_400).isEmpty, "then by the interval again")
    }

    @Test("aggregator rejects a NaN or wrong-sized delta and counts it against its worker")
    func rejects() {
        var a = ModelAggregator(parameterCount: 2, syncIntervalMs: 10, now: 0)
        let r1 = a.receive(ModelDelta(workerId: "bad", seq: 1, baseVersion: 0, samples: 5, delta: [.nan, 0]))
        let r2 = a.receive(ModelDelta(workerId: "bad", seq: 2, baseVersion: 0, samples: 5, delta: [1, 2, 3]))
        #expect(!r1.isEmpty && !r2.isEmpty)
        #expect(a.rejected["bad"] == 2)
        let t = a.tick(now: 100)
        #expect(t.isEmpty)
        #expect(a.parameters == [0, 0])
    }

    @Test("robust averaging: a huge delta with inflated samples moves the model only by its clipped share")
    func robustClip() {
        var a = ModelAggregator(parameterCount: 3, syncIntervalMs: 10, now: 0)  // default: clip at 3 x the median norm
        _ = a.receive(ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 10, delta: [1, 0, 0]))
        _ = a.receive(ModelDelta(workerId: "b", seq: 1, baseVersion: 0, samples: 10, delta: [0, 1, 0]))
        _ = a.receive(ModelDelta(workerId: "c", seq: 1, baseVersion: 0, samples: 10, delta: [1, 1, 0]))
        _ = a.receive(ModelDelta(workerId: "bad", seq: 1, baseVersion: 0, samples: 1000, delta: [1e6, 0, 0]))
        let out = a.tick(now: 10)
        // Reference norm: median(1, 1, √2, 1e6) = (1 + √2) / 2; limit 3x that. Samples: median 10,
        // cap 30. So bad counts as [limit, 0, 0] with 30 samples out of 60.
        let limit = 3 * (1 + 2.0.squareRoot()) / 2
        let expected = [(10.0 + 10 + 30 * limit) / 60, 20.0 / 60, 0]
        for i in 0..<3 { #expect(abs(a.parameters[i] - expected[i]) < 1e-12) }
        #expect(a.clipped["bad"] == 1)
        #expect(a.clipped["a"] == nil)
        #expect(out.contains { if case .log(let l) = $0 { l.contains("clipped model delta from bad") } else { false } })
        // reject: the outlier is dropped and counted; the honest ones merge as usual.
        var r = ModelAggregator(parameterCount: 3, syncIntervalMs: 10, now: 0, robust: RobustPolicy(mode: .reject, factor: 3))
        _ = r.receive(ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 10, delta: [1, 0, 0]))
        _ = r.receive(ModelDelta(workerId: "b", seq: 1, baseVersion: 0, samples: 10, delta: [0, 1, 0]))
        _ = r.receive(ModelDelta(workerId: "bad", seq: 1, baseVersion: 0, samples: 10, delta: [0, 0, 1e6]))
        _ = r.tick(now: 10)
        #expect(r.parameters == [0.5, 0.5, 0])
        #expect(r.rejected["bad"] == 1)
    }

    @Test("scaler moments: honest parts add up; NaN, counts beyond the samples, impossible sums and far-off values are left out and counted")
    func scalerBounds() {
        // One input; moments [count, Σx, Σx²]. Honest workers see x ~ 1 ± 0.1.
        func honest(_ n: Double) -> [Double] { [n, n * 1.0, n * (1.0 + 0.01)] }
        var a = ModelAggregator(parameterCount: 1, syncIntervalMs: 10, now: 0)
        var d1 = ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 200, delta: [0.1])
        d1.scaler = honest(200)
        var d2 = ModelDelta(workerId: "b", seq: 1, baseVersion: 0, samples: 200, delta: [0.1])
        d2.scaler = honest(200)
        _ = a.receive(d1)
        _ = a.receive(d2)
        _ = a.tick(now: 10)
        #expect(a.scaler == [400, 400, 404])
        // Next round: one honest part and four poisoned ones.
        var t = 10
        for (worker, scaler) in [("nan", [10, .nan, 10]), ("count", [5000, 5000, 5050]), ("cs", [10, 10, 1]),
                                 ("far", [10, 1e7, 1e14])] {
            var d = ModelDelta(workerId: worker, seq: 2, baseVersion: 1, samples: 10, delta: [0.1])
            d.scaler = scaler
            var h = ModelDelta(workerId: "a", seq: 2, baseVersion: 1, samples: 10, delta: [0.1])
            h.scaler = honest(10)
            _ = a.receive(d)
            _ = a.receive(h)
            t += 10
            let out = a.tick(now: Int64(t))
            #expect(a.rejectedScalers[worker] == 1, "\(worker): \(out)")
            #expect(out.contains { if case .log(let l) = $0 { l.contains("scaler moments of the model delta from \(worker)") } else { false } })
        }
        // Only the honest parts were added: 400 + 4 × 10 values of x ≈ 1.
        #expect(a.scaler[0] == 440 && abs(a.scaler[1] - 440) < 1e-9)
        #expect(a.rejectedScalers["a"] == nil)
        // The pure check on its own: the cluster's moments are the reference once it has 100 values.
        #expect(ModelAveraging.scalerRejection([10, 12, 15], global: [], samples: 10, factor: 9) == nil)
        #expect(ModelAveraging.scalerRejection([10, 1e7, 1e14], global: [50, 50, 51], samples: 10, factor: 9) == nil)
        #expect(ModelAveraging.scalerRejection([10, 1e7, 1e14], global: [400, 400, 404], samples: 10, factor: 9) != nil)
    }

    @Test("an honest one-sample scaler delta taken after a rebase passes the bounds (rounding of inputs that stayed 0)")
    func honestTinyScalerDelta() {
        // A worker adopts the cluster's scaler (its Welford state rebuilt from the moments),
        // learns one event whose inputs are mostly exactly 0, and sends its moments minus the
        // cluster's: what a worker syncing every event or two does. The cluster's moments are
        // sums of workers' moments, not one Welford state's.
        var rng = SystemRandomNumberGenerator()
        var a = StandardScaler(width: 6), b = StandardScaler(width: 6)
        for _ in 0..<5000 {
            a.learn((0..<6).map { _ in Double.random(in: -1...1, using: &rng) * 0.01 + 0.97 })
            b.learn((0..<6).map { _ in Double.random(in: 0...1, using: &rng) < 0.9 ? 1 : 0 })
        }
        let cluster = zip(a.moments, b.moments).map { $0 + $1 }
        var rejected = 0
        for k in 0..<200 {
            var w = StandardScaler(width: 6)
            w.setMoments(cluster)
            w.learn([0, 0, 0, k % 2 == 0 ? 0 : 1, 0, k % 3 == 0 ? 1 : 0.97])
            let part = zip(w.moments, cluster).map { $0 - $1 }
            if let why = ModelAveraging.scalerRejection(part, global: cluster, samples: 1, factor: 9) {
                rejected += 1
                if rejected == 1 { Issue.record("honest part rejected: \(why)") }
            }
        }
        // Without the rounding tolerance all 200 were refused.
        #expect(rejected == 0)
        // Real negatives are still refused.
        var bad = [Double](repeating: 0, count: 18)
        bad[0] = 1; bad[12] = -1
        #expect(ModelAveraging.scalerRejection(bad, global: cluster, samples: 1, factor: 9) != nil)
    }

    @Test("after a rebase, coordinates the worker did not touch give an exact 0 in the next delta (sparse on the wire)")
    func untouchedStayZero() throws {
        var s = SyncState(version: 1, base: [0.1, 0.2, 0.3])
        var local = [0.1 + 0.05, 0.2, 0.3]   // touched coordinate 0 only
        s.samples = 1
        let first = s.makeDelta(current: local, worker: "w")
        let d = try #require(first)
        local[0] += 0.01                     // learnt after the delta was taken
        local = s.rebase(current: local, onto: ModelUpdate(version: 2, contributions: ["w": d.seq], parameters: [0.7, 0.123456789, 1e-17]), me: "w")
        s.samples = 1
        let second = s.makeDelta(current: local, worker: "w")
        let next = try #require(second)
        #expect(next.delta[1] == 0 && next.delta[2] == 0)
        #expect(abs(next.delta[0] - 0.01) < 1e-15)
    }

    @Test("restore never goes backwards")
    func restore() {
        var a = ModelAggregator(parameterCount: 2, syncIntervalMs: 10, now: 0, version: 5, parameters: [1, 1])
        let back = a.restore(version: 4, parameters: [2, 2])
        let forward = a.restore(version: 9, parameters: [2, 2])
        #expect(!back && forward)
        #expect(a.version == 9)
    }

    @Test("worker rebase keeps what was learnt after the delta, counts nothing twice")
    func rebase() {
        var s = SyncState(version: 0, base: [0, 0])
        s.samples = 10
        let d = s.makeDelta(current: [1, 2], worker: "w")!
        #expect(d.delta == [1, 2] && d.samples == 10 && d.seq == 1)
        let second = s.makeDelta(current: [5, 5], worker: "w")
        #expect(second == nil)  // one in flight at a time
        // Meanwhile the worker learnt more: local = [1.5, 2]. The global merged our delta.
        let local = s.rebase(current: [1.5, 2], onto: ModelUpdate(version: 1, contributions: ["w": 1], parameters: [0.5, 1]), me: "w")
        #expect(local == [1.0, 1.0])  // global + (local − snapshot) = [0.5+0.5, 1+0]
        #expect(s.pending == nil && s.base == [0.5, 1] && s.version == 1)
    }

    @Test("a version without our delta keeps all our progress; the delta merges later")
    func rebaseNotMerged() {
        var s = SyncState(version: 0, base: [0])
        s.samples = 1
        _ = s.makeDelta(current: [2], worker: "w")                   // pending: +2
        var local = s.rebase(current: [3], onto: ModelUpdate(version: 1, contributions: ["x": 1], parameters: [10]), me: "w")
        #expect(local == [13])                                      // 10 + (3 − 0)
        local = s.rebase(current: local, onto: ModelUpdate(version: 2, contributions: ["w": 1], parameters: [12]), me: "w")
        #expect(local == [13])                                      // 12 + (13 − (10 + 2 − 0)) = 13
        #expect(s.pending == nil)
    }

    @Test("an abandoned delta's samples count again")
    func abandon() {
        var s = SyncState(version: 0, base: [0])
        s.samples = 7
        _ = s.makeDelta(current: [1], worker: "w")
        s.abandonPending()
        let d = s.makeDelta(current: [1.5], worker: "w")!
        #expect(d.samples == 7 && d.delta == [1.5])
    }
}
