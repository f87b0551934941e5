import Wire

/// The coordinator's whole decision logic as a value type: who is in the cluster and
/// which partition each runs, under which epoch. Events in (messages, clock ticks),
/// directives out (messages to send, log lines); time is passed in, never read, so tests
/// drive it without sockets or sleeps (the SWIM.Instance / NIO-shell split).
///
/// Invariants:
/// - a partition has at most one owner; a move is revoke-first: the new owner is assigned
///   only after the old one confirms (`revoked`) or is declared dead;
/// - every assignment of a partition gets a larger epoch than any before it;
/// - assignment is sticky and balanced: each live worker owns ⌊n/k⌋ or ⌈n/k⌉ partitions,
///   and a rebalance moves only partitions beyond a worker's quota.
public struct Membership: Sendable {
    public struct Settings: Sendable, Equatable {
        public var failureTimeoutMs: Int64
        /// After start, partitions are not assigned for this long, so that workers that ran
        /// under a previous coordinator can re-register and keep what they hold.
        public var startupGraceMs: Int64
        /// How long a dead worker stays visible in status.
        public var forgetDeadAfterMs: Int64 = 60_000
        /// A rebalance waits until membership has been quiet this long (at most 10× as long
        /// under steady churn), so workers joining or leaving together are placed in one
        /// step: one at a time, a partition given to an early joiner moves again when the
        /// next one lowers the quota (200 joins to 800 workers: 2,142 moves against the 2,000
        /// needed; together: 2,000). Kafka's group.initial.rebalance.delay.ms, for every change.
        public var rebalanceDelayMs: Int64
        public init(failureTimeoutMs: Int64 = 3000, startupGraceMs: Int64 = 0, rebalanceDelayMs: Int64 = 0) {
            self.failureTimeoutMs = failureTimeoutMs
            self.startupGraceMs = startupGraceMs
            self.rebalanceDelayMs = rebalanceDelayMs
        }
    }

    public struct Member: Sendable, Equatable {
        public var id: String
        public var host: String
        public var pid: Int32
        public var state: MemberState
        public var lastSeenMs: Int64
        public var report: WorkerReport?
    }

    public struct Slot: Sendable, Equatable {
        public var owner: String?
        public var epoch: Int = 0
        /// Set while the partition is being revoked from `owner` to be given to this worker.
        public var movingTo: String?
    }

    public enum Event: Sendable, Equatable {
        case message(from: String, WireMessage)
        case tick
        case partitionCount(Int)
        /// The coordinator itself was not running for a while: silence in that time is ours,
        /// not the workers'.
        case coordinatorPaused
    }

    public enum Directive: Sendable, Equatable {
        /// Send the welcome (the shell fills in config and bootstrap).
        case welcome(to: String)
        case send(to: String, WireMessage)
        case log(String)
    }

    public let settings: Settings
    public let startedMs: Int64
    public private(set) var members: [String: Member] = [:]
    public private(set) var slots: [Slot]
    /// Partitions moved so far (for status and tests of stickiness).
    public private(set) var moves = 0
    /// Whether anything a rebalance reads (members' states, owners) changed since the last
    /// one that found nothing to do: a heartbeat of a live worker changes neither, and with
    /// 1,000 workers a rebalance per heartbeat cost 1.4 ms each, 2,000 times a second.
    private var unbalanced = true
    /// First and latest membership change not yet rebalanced (`rebalanceDelayMs`).
    private var firstChangeMs: Int64?
    private var lastChangeMs: Int64 = 0

    public init(partitions: Int, settings: Settings, now: Int64) {
        self.settings = settings
        self.startedMs = now
        slots = .init(repeating: Slot(), count: partitions)
    }

    public func partitions(of worker: String) -> [PartitionLease] {
        slots.indices.compactMap { i in
            slots[i].owner == worker ? PartitionLease(partition: Int32(i), epoch: slots[i].epoch) : nil
        }
    }

    public var unassigned: [Int32] {
        slots.indices.filter { slots[$0].owner == nil }.map { Int32($0) }
    }

    public mutating func handle(_ event: Event, now: Int64) -> [Directive] {
        var out: [Directive] = []
        switch event {
        case .message(let from, let msg):
            handleMessage(from: from, msg, now: now, &out)
        case .tick:
            expire(now: now, &out)
        case .coordinatorPaused:
            for id in members.keys where members[id]?.state != .dead { members[id]?.lastSeenMs = now }
        case .partitionCount(let n):
            if n > slots.count {
                out.append(.log("input topic grew from \(slots.count) to \(n) partitions"))
                slots.append(contentsOf: repeatElement(Slot(), count: n - slots.count))
                changed(now)
            }
        }
        if unbalanced { rebalance(now: now, &out) }
        return out
    }

    /// Something a rebalance depends on changed.
    private mutating func changed(_ now: Int64) {
        unbalanced = true
        if firstChangeMs == nil { firstChangeMs = now }
        lastChangeMs = now
    }

    private mutating func handleMessage(from: String, _ msg: WireMessage, now: Int64, _ out: inout [Directive]) {
        switch msg {
        case .hello(let h):
            let known = members[from]
            if let known, known.state != .dead {
                // A reconnect of a live member: keep what the map says it owns.
                members[from]?.lastSeenMs = now
                members[from]?.pid = h.pid
            } else {
                members[from] = Member(id: from, host: h.host, pid: h.pid, state: .up, lastSeenMs: now, report: nil)
                out.append(.log("worker \(from) joined (host \(h.host), pid \(h.pid))"))
                changed(now)
            }
            out.append(.welcome(to: from))
            // Adopt what it still runs (coordinator restart); refuse what someone else owns.
            var refuse: [PartitionLease] = []
            for lease in h.held {
                let p = Int(lease.partition)
                guard p >= 0 && p < slots.count else { refuse.append(lease); continue }
                if slots[p].owner == nil && lease.epoch >= slots[p].epoch {
                    slots[p].owner = from
                    slots[p].epoch = lease.epoch
                    unbalanced = true
                    out.append(.log("adopted partition \(p) epoch \(lease.epoch) on \(from)"))
                } else if slots[p].owner != from || slots[p].epoch != lease.epoch {
                    refuse.append(lease)
                }
            }
            if !refuse.isEmpty { out.append(.send(to: from, .revoke(Assignment(partitions: refuse)))) }
            // Tell it what it owns (idempotent for the worker).
            let mine = partitions(of: from)
            if !mine.isEmpty { out.append(.send(to: from, .assign(Assignment(partitions: mine)))) }

        case .heartbeat(let report):
            guard let m = members[from], m.state != .dead else {
                out.append(.send(to: from, .reregister(Reregister(reason: "unknown or expired worker"))))
                return
            }
            members[from]?.lastSeenMs = now
            members[from]?.report = report
            if m.state == .suspect {
                members[from]?.state = .up
                unbalanced = true
            }

        case .revoked(let r):
            if members[from] != nil { members[from]?.lastSeenMs = now }
            for lease in r.partitions {
                let p = Int(lease.partition)
                guard p >= 0 && p < slots.count, slots[p].owner == from else { continue }
                release(p, &out, why: "revoked by \(from)")
            }

        case .leaving:
            out.append(.send(to: from, .left(Leaving(workerId: from))))
            guard members[from] != nil else { return }
            out.append(.log("worker \(from) left"))
            for p in slots.indices where slots[p].owner == from { release(p, &out, why: "\(from) left") }
            for p in slots.indices where slots[p].movingTo == from { slots[p].movingTo = nil }
            members[from] = nil
            changed(now)

        case .statusRequest, .welcome, .assign, .revoke, .ping, .reregister, .status, .error,
             .modelDelta, .modelUpdate, .modelCommand, .left:
            break  // not ours to handle here (status is answered by the shell)
        }
    }

    /// The owner no longer runs `p`: hand it to the waiting target, if any.
    private mutating func release(_ p: Int, _ out: inout [Directive], why: String) {
        let target = slots[p].movingTo
        slots[p].owner = nil
        slots[p].movingTo = nil
        if let target, members[target]?.state == .up {
            // As the rebalance planned it: the loads it counted stay as they were.
            give(p, to: target, &out)
        } else {
            unbalanced = true
        }
    }

    private mutating func give(_ p: Int, to w: String, _ out: inout [Directive]) {
        slots[p].epoch += 1
        slots[p].owner = w
        slots[p].movingTo = nil
        moves += 1
        out.append(.send(to: w, .assign(Assignment(partitions: [PartitionLease(partition: Int32(p), epoch: slots[p].epoch)]))))
    }

    private mutating func expire(now: Int64, _ out: inout [Directive]) {
        for (id, m) in members {
            let silent = now - m.lastSeenMs
            if m.state == .dead {
                if silent > settings.forgetDeadAfterMs { members[id] = nil }
                continue
            }
            if silent > settings.failureTimeoutMs {
                members[id]?.state = .dead
                changed(now)
                out.append(.log("worker \(id) declared dead after \(silent) ms without a heartbeat"))
                for p in slots.indices {
                    if slots[p].owner == id { slots[p].owner = nil; slots[p].movingTo = nil }
                    if slots[p].movingTo == id { slots[p].movingTo = nil }
                }
            } else if silent > settings.failureTimeoutMs / 2 && m.state == .up {
                members[id]?.state = .suspect
                unbalanced = true
            }
        }
    }

    /// Sticky balanced assignment (see the type's invariants). O(partitions + workers·log
    /// workers) per call: one pass builds each worker's partitions.
    private mutating func rebalance(now: Int64, _ out: inout [Directive]) {
        guard now - startedMs >= settings.startupGraceMs else { return }
        if let first = firstChangeMs, settings.rebalanceDelayMs > 0,
           now - lastChangeMs < settings.rebalanceDelayMs, now - first < 10 * settings.rebalanceDelayMs { return }
        firstChangeMs = nil
        // Suspects keep what they have but get nothing new... and are counted, so that a
        // late heartbeat does not cause a storm of moves. Workers by index in id order
        // (arrays, not dictionaries keyed by id: a rebalance of 10,000 partitions over 1,000
        // workers took 3 ms with dictionaries).
        let live = members.values.filter { $0.state == .up || $0.state == .suspect }.map(\.id).sorted()
        guard !live.isEmpty, !slots.isEmpty else { return }
        let k = live.count, n = slots.count
        var index: [String: Int] = [:]
        index.reserveCapacity(k)
        for (i, w) in live.enumerated() { index[w] = i }
        var load = [Int](repeating: 0, count: k)
        var owned = [[Int]](repeating: [], count: k)
        var pool: [Int] = []
        for (p, s) in slots.enumerated() {
            if let t = s.movingTo { if let i = index[t] { load[i] += 1 } }
            else if let o = s.owner { if let i = index[o] { load[i] += 1; owned[i].append(p) } }
            else { pool.append(p) }
        }
        let base = n / k, extra = n % k
        // The extra partitions go to those already holding the most (fewest moves).
        let order = (0..<k).sorted { (load[$0], $1) > (load[$1], $0) }
        var quota = [Int](repeating: base, count: k)
        for i in order.prefix(extra) { quota[i] += 1 }

        // Partitions to place: unowned ones, then the surplus of over-quota workers.
        for w in order where load[w] > quota[w] { pool.append(contentsOf: owned[w].suffix(load[w] - quota[w])) }
        var next = 0
        var assigns = [[PartitionLease]](repeating: [], count: k)
        var revokes = [[PartitionLease]](repeating: [], count: k)
        var decided = false
        for w in order.reversed() where load[w] < quota[w] && members[live[w]]?.state == .up {
            while load[w] < quota[w], next < pool.count {
                let p = pool[next]
                next += 1
                load[w] += 1
                decided = true
                if let owner = slots[p].owner, let o = index[owner] {
                    slots[p].movingTo = live[w]
                    load[o] -= 1
                    revokes[o].append(PartitionLease(partition: Int32(p), epoch: slots[p].epoch))
                } else {
                    slots[p].epoch += 1
                    slots[p].owner = live[w]
                    moves += 1
                    assigns[w].append(PartitionLease(partition: Int32(p), epoch: slots[p].epoch))
                }
            }
        }
        // Nothing to do: nothing more until something changes. Otherwise look again at the
        // next event (what this one decided may leave more to do).
        unbalanced = decided
        for (w, ps) in revokes.enumerated() where !ps.isEmpty {
            out.append(.log("revoking \(Self.listed(ps)) from \(live[w]) to rebalance"))
            out.append(.send(to: live[w], .revoke(Assignment(partitions: ps))))
        }
        for (w, ps) in assigns.enumerated() where !ps.isEmpty {
            out.append(.log("assigning \(Self.listed(ps)) to \(live[w])"))
            out.append(.send(to: live[w], .assign(Assignment(partitions: ps))))
        }
    }

    /// Partitions for a log line: each with its epoch, the first 20 of a long list (a
    /// cluster's first assignment of 10,000 partitions made a 100 KB line, and formatting it
    /// was most of that decision's time).
    static func listed(_ ps: [PartitionLease]) -> String {
        let shown = ps.prefix(20).map { "\($0.partition)@\($0.epoch)" }.joined(separator: ", ")
        return ps.count > 20 ? "\(ps.count) partitions [\(shown), ...]" : "[\(shown)]"
    }
}
