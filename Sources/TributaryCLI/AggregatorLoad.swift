import Dispatch
import Foundation
import Coordinator
import Features
import Models
import Wire

/// The real `ModelAggregator` and `WireCodec` driven in process by many simulated workers
/// sending deltas of one model (issue 28): one sync round is every worker's delta decoded and
/// received, then the merge and the encoding of the new version. Dense deltas, or hashed-sparse
/// ones with a share of the coordinates touched.
struct AggregatorLoad {
    struct Result: Codable {
        var workers: Int
        var weights: Int
        /// 1 = dense; else the share of coordinates each delta touches.
        var touched: Double
        var compression: String
        var shards: Int
        var rounds: Int
        /// Per round, wall ms: receiving every delta (decode, validation, norm) and the
        /// merge with the new version's encoding (the loop's stall at the interval's end).
        var receiveMs: Double
        var mergeMs: Double
        var roundMs: Double
        /// Coordinator CPU per round (all threads).
        var cpuMs: Double
        var deltaBytesPerWorker: Int
        var updateBytesPerWorker: Int
        /// A version as its difference from the one before (`VersionBroadcast`, compressed
        /// as the deltas are), what a worker holding that one is sent; and the wall ms taking it.
        var diffBytesPerWorker: Int?
        var diffMs: Double?
        /// Workers per host behind a relay (1: none), and one relay's work per round (ms):
        /// decoding its workers' deltas, combining, encoding the one it sends.
        var perHost: Int?
        var hostMs: Double?
    }

    /// Distinct deltas cycled over the workers (each worker's frames are copied first, as a
    /// socket receives them into fresh buffers).
    static let patterns = 8

    /// This process's CPU seconds, all threads (getrusage: finer than /proc's ticks).
    static func cpuNow() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    static func run(workers: Int, weights: Int, touched: Double, compression: DeltaCompression, shards: Int, rounds: Int,
                    perHost: Int = 1) -> Result {
        var rng = SplitMix64(seed: 42)  // setup only: the system generator made a syscall per number
        var frames: [[[UInt8]]] = (0..<patterns).map { p in
            var delta = [Double](repeating: 0, count: weights)
            if touched >= 1 {
                for i in delta.indices { delta[i] = Double.random(in: -1e-3...1e-3, using: &rng) }
            } else {
                for _ in 0..<Int(Double(weights) * touched) { delta[Int.random(in: 0..<weights, using: &rng)] = Double.random(in: -1e-3...1e-3, using: &rng) }
            }
            var d = ModelDelta(workerId: "w\(p)", seq: 1, baseVersion: 0, samples: 100 + p, delta: delta)
            if compression != .none && touched >= 1 { (d.compressed, d.delta) = compression.encode(delta); d.compression = compression }
            return WireCodec.encode(.modelDelta(d))
        }
        // Behind relays (`perHost` > 1): one host's relay decodes its workers' deltas, combines
        // and encodes them (timed: work on the host, off the coordinator), and the coordinator
        // receives one combined delta per host.
        var hostMs: Double?
        var senders = workers
        var relayHeads: [[UInt8]]?
        if perHost > 1 {
            let t = DispatchTime.now().uptimeNanoseconds
            // The relay sends as the workers do (compressed deltas: a compressed combined one).
            var c = DeltaCombiner(id: "relay-0", settings: .init(compression: compression))
            for w in 0..<min(perHost, workers) {
                guard case .modelDelta(var d)? = try? WireCodec.decode(frames[w % patterns].map { Array($0) }[...]) else { fatalError("bench delta did not decode") }
                d.workerId = "w\(w)"
                precondition(c.add(d, now: 0) == nil, "bench delta refused")
            }
            guard let combined = c.flush(now: 0, force: true) else { fatalError("nothing combined") }
            let encoded = WireCodec.encode(.modelDelta(combined))
            hostMs = Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
            senders = (workers + perHost - 1) / perHost
            frames = [encoded]
            // Each relay's own id in the head (the members' names do not matter to the cost).
            let head = String(decoding: encoded[1], as: UTF8.self)
            relayHeads = (0..<senders).map { h in
                Array(head.replacingOccurrences(of: "\"workerId\":\"relay-0\"", with: "\"workerId\":\"relay-\(h)\"").utf8)
            }
        }
        // Each worker's own head (its id), the pattern's parameter frames.
        let heads: [[UInt8]] = relayHeads ?? (0..<workers).map { w in
            var f = WireCodec.encode(.modelDelta(ModelDelta(workerId: "w\(w)", seq: 1, baseVersion: 0, samples: 100 + w % patterns, delta: [])))
            if touched < 1 || compression != .none {
                let p = frames[w % patterns][1]
                f[1] = Array(String(decoding: p, as: UTF8.self).replacingOccurrences(of: "\"workerId\":\"w\(w % patterns)\"", with: "\"workerId\":\"w\(w)\"").utf8)
            }
            return f[1]
        }
        var agg = ModelAggregator(parameterCount: weights, syncIntervalMs: 1, now: 0, shards: shards)
        var receive = 0.0, merge = 0.0, cpu = 0.0, updateBytes = 0
        var broadcast = VersionBroadcast(compression: compression)
        var diffBytes: Int?, diffTime = 0.0, diffs = 0
        for r in 0..<rounds {
            let c0 = cpuNow()
            let t0 = DispatchTime.now().uptimeNanoseconds
            for w in 0..<senders {
                // A copy of each frame, as a socket hands over fresh buffers.
                var f = frames[w % frames.count].map { Array($0) }
                f[1] = heads[w]
                guard case .modelDelta(let d)? = try? WireCodec.decode(f[...]) else { fatalError("bench delta did not decode") }
                let out = agg.receive(d)
                precondition(out.isEmpty, "bench delta rejected: \(out)")
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            var published = false
            var update: ModelUpdate?
            for d in agg.tick(now: Int64(r + 1) * 10) {
                if case .publish(let u) = d { updateBytes = WireCodec.encode(.modelUpdate(u)).reduce(0) { $0 + $1.count }; published = true; update = u }
            }
            precondition(published, "no version published")
            let t2 = DispatchTime.now().uptimeNanoseconds
            if let update {
                let (whole, diff) = broadcast.next(update)
                if let diff {
                    diffBytes = WireCodec.encode(.modelUpdate(diff)).reduce(0) { $0 + $1.count }
                    diffTime += Double(DispatchTime.now().uptimeNanoseconds - t2) / 1e6
                    diffs += 1
                } else if r > 0 {
                    diffBytes = WireCodec.encode(.modelUpdate(whole)).reduce(0) { $0 + $1.count }
                }
            }
            receive += Double(t1 - t0) / 1e6
            merge += Double(t2 - t1) / 1e6
            cpu += (cpuNow() - c0) * 1000
        }
        let n = Double(rounds)
        return Result(workers: workers, weights: weights, touched: touched, compression: compression.rawValue, shards: shards, rounds: rounds,
                      receiveMs: receive / n, mergeMs: merge / n, roundMs: (receive + merge) / n, cpuMs: cpu / n,
                      deltaBytesPerWorker: frames[0].dropFirst().reduce(0) { $0 + $1.count }, updateBytesPerWorker: updateBytes,
                      diffBytesPerWorker: diffBytes, diffMs: diffs > 0 ? diffTime / Double(diffs) : nil,
                      perHost: perHost > 1 ? perHost : nil, hostMs: hostMs)
    }
}
