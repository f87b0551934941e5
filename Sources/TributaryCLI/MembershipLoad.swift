import Dispatch
import Config
import Coordinator
import Wire

/// The real `Membership` state machine driven in process by simulated workers (issue 28):
/// they join, heartbeat every `heartbeatMs`, answer revokes at once, leave or crash. Time is
/// virtual (the state machine takes it as input), so 1,000 workers and minutes of cluster
/// life run in seconds; what is measured is the wall time of each decision (`handle`).
struct MembershipLoad {
    struct Wave: Codable {
        var change: String
        var workers: Int
        var moves: Int
        /// The fewest moves any balanced assignment of the new membership needs from the
        /// assignment before the change.
        var minimumMoves: Int
        var balance: Int
        var unassigned: Int
        var settledMs: Int64
    }

    struct Result: Codable {
        var workers: Int
        var partitions: Int
        var decisions: Int
        var p50Us: Double
        var p99Us: Double
        var maxUs: Double
        /// Decisions on heartbeats alone (the bulk of a steady cluster's events).
        var heartbeatP99Us: Double
        /// Decoding one heartbeat off the wire (a worker with 10 partitions and its
        /// evaluation): the coordinator's other cost per heartbeat.
        var heartbeatDecodeUs: Double
        var heartbeatBytes: Int
        var waves: [Wave]
    }

    /// A realistic heartbeat on the wire.
    static func heartbeat() -> [[UInt8]] {
        var r = WorkerReport(workerId: "w123")
        r.partitions = (0..<10).map { PartitionReport(partition: Int32($0), epoch: 3, position: 123_456, committed: 123_000, lag: 456, processed: 99_999, keys: 4_000) }
        r.evaluation = ClusterConfig().model.makeEvaluation().report
        r.metrics = ["accuracy": 0.93, "log_loss": 0.21, "roc_auc": 0.97]
        r.windowMetrics = r.metrics
        r.deadLettersByReason = ["not_json": 3]
        return WireCodec.encode(.heartbeat(r))
    }

    /// Mean µs to decode a realistic heartbeat, over 2,000.
    static func heartbeatDecodeMicros() -> Double {
        let frames = heartbeat()
        let n = 2_000
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<n { _ = try? WireCodec.decode(frames[...]) }
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000 / Double(n)
    }

    let heartbeatMs: Int64 = 500
    let failureTimeoutMs: Int64 = 3000
    var membership: Membership
    var now: Int64 = 0
    var running: [String] = []
    private var nextId = 0
    private var timings: [UInt64] = []
    private var heartbeatTimings: [UInt64] = []

    init(partitions: Int, rebalanceDelayMs: Int64) {
        membership = Membership(partitions: partitions,
                                settings: .init(failureTimeoutMs: failureTimeoutMs, startupGraceMs: 1500, rebalanceDelayMs: rebalanceDelayMs), now: 0)
    }

    private mutating func newId() -> String {
        defer { nextId += 1 }
        return "w" + String(nextId)
    }

    /// One event and whatever it sets off (revokes answered at once by their worker).
    private mutating func deliver(_ event: Membership.Event, heartbeat: Bool = false) {
        var queue = [event]
        while !queue.isEmpty {
            let e = queue.removeFirst()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let out = membership.handle(e, now: now)
            let dt = DispatchTime.now().uptimeNanoseconds - t0
            timings.append(dt)
            if heartbeat { heartbeatTimings.append(dt) }
            for d in out {
                guard case .send(let to, .revoke(let a)) = d, running.contains(to) else { continue }
                queue.append(.message(from: to, .revoked(Revoked(workerId: to, partitions: a.partitions,
                                                                 committed: a.partitions.map { _ in 0 }))))
            }
        }
    }

    /// Virtual time passes in 100 ms ticks; each running worker heartbeats once per
    /// `heartbeatMs`, spread over the ticks.
    private mutating func advance(ms: Int64) {
        let end = now + ms
        while now < end {
            now += 100
            let phase = Int(now / 100) % Int(heartbeatMs / 100)
            for (i, w) in running.enumerated() where i % Int(heartbeatMs / 100) == phase {
                deliver(.message(from: w, .heartbeat(WorkerReport(workerId: w))), heartbeat: true)
            }
            deliver(.tick)
        }
    }

    private func loads() -> [String: Int] {
        var load: [String: Int] = [:]
        for w in running { load[w] = 0 }
        for s in membership.slots { if let o = s.owner, load[o] != nil { load[o]! += 1 } }
        return load
    }

    /// Fewest partitions that must change owner to reach a balanced assignment over
    /// `live`, keeping as many as possible where they are.
    private func minimumMoves(live: [String]) -> Int {
        let n = membership.slots.count, k = live.count
        guard k > 0 else { return 0 }
        let base = n / k, extra = n % k
        var load: [String: Int] = [:]
        for w in live { load[w] = 0 }
        for s in membership.slots { if let o = s.owner, load[o] != nil { load[o]! += 1 } }
        let kept = live.reduce(0) { $0 + min(load[$1]!, base) }
        let above = live.filter { load[$0]! > base }.count
        return n - kept - min(extra, above)
    }

    private mutating func settle(_ change: String, live: [String], minimum: Int, movesBefore: Int) -> Wave {
        let start = now
        // Until every partition is owned, no move is under way and the load is balanced (or
        // a bound: a wave that never settles shows as such).
        func settled() -> Bool {
            let l = loads().values
            return !membership.slots.contains { $0.owner == nil || $0.movingTo != nil } && (l.max() ?? 0) - (l.min() ?? 0) <= 1
        }
        repeat { advance(ms: 100) } while !settled() && now - start < 30_000
        let l = loads().values
        return Wave(change: change, workers: running.count, moves: membership.moves - movesBefore, minimumMoves: minimum,
                    balance: (l.max() ?? 0) - (l.min() ?? 0), unassigned: membership.unassigned.count, settledMs: now - start)
    }

    /// Start `workers`, then `waves` rounds of churn, each `churn` of the workers: a round
    /// of leaves, one of crashes, one of joins.
    mutating func run(workers: Int, churn: Double, rounds: Int) -> Result {
        var waves: [Wave] = []
        let starters = (0..<workers).map { _ in newId() }
        for w in starters {
            running.append(w)
            deliver(.message(from: w, .hello(Hello(workerId: w, host: "h", pid: 1, held: []))))
        }
        waves.append(settle("start", live: running, minimum: membership.slots.count, movesBefore: 0))
        let size = max(1, Int(Double(workers) * churn))
        for _ in 0..<rounds {
            // Leave: a clean shutdown each.
            var moves = membership.moves
            let leaving = Array(running.suffix(size))
            running.removeLast(size)
            var minimum = minimumMoves(live: running)
            for w in leaving { deliver(.message(from: w, .leaving(Leaving(workerId: w)))) }
            waves.append(settle("\(size) leave", live: running, minimum: minimum, movesBefore: moves))
            // Crash: silence, found by the failure timeout.
            moves = membership.moves
            let crashed = Set(running.prefix(size))
            running.removeAll { crashed.contains($0) }
            minimum = minimumMoves(live: running)
            advance(ms: failureTimeoutMs + 200)
            waves.append(settle("\(size) crash", live: running, minimum: minimum, movesBefore: moves))
            // Join: new workers, one hello each.
            moves = membership.moves
            let joining = (0..<(2 * size)).map { _ in newId() }
            minimum = minimumMoves(live: running + joining)
            for w in joining {
                running.append(w)
                deliver(.message(from: w, .hello(Hello(workerId: w, host: "h", pid: 1, held: []))))
            }
            waves.append(settle("\(2 * size) join", live: running, minimum: minimum, movesBefore: moves))
        }
        func pct(_ v: [UInt64], _ q: Double) -> Double {
            guard !v.isEmpty else { return 0 }
            let s = v.sorted()
            return Double(s[min(s.count - 1, Int(Double(s.count) * q))]) / 1000
        }
        return Result(workers: workers, partitions: membership.slots.count, decisions: timings.count,
                      p50Us: pct(timings, 0.5), p99Us: pct(timings, 0.99), maxUs: Double(timings.max() ?? 0) / 1000,
                      heartbeatP99Us: pct(heartbeatTimings, 0.99), heartbeatDecodeUs: Self.heartbeatDecodeMicros(),
                      heartbeatBytes: Self.heartbeat().reduce(0) { $0 + $1.count }, waves: waves)
    }
}
