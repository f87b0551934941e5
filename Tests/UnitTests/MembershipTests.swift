import Testing
@testable import Coordinator
import Wire

/// The coordinator's decisions, driven with an injected clock: no sockets, no sleeps.
@Suite("Membership and assignment")
struct MembershipTests {
    var m = Membership(partitions: 8, settings: .init(failureTimeoutMs: 3000, startupGraceMs: 0), now: 0)
    var now: Int64 = 0

    mutating func hello(_ id: String, held: [PartitionLease] = []) -> [Membership.Directive] {
        m.handle(.message(from: id, .hello(Hello(workerId: id, host: "h", pid: 1, held: held))), now: now)
    }
    mutating func beat(_ id: String) -> [Membership.Directive] {
        m.handle(.message(from: id, .heartbeat(WorkerReport(workerId: id))), now: now)
    }
    mutating func revoked(_ id: String, _ ps: [PartitionLease]) -> [Membership.Directive] {
        m.handle(.message(from: id, .revoked(Revoked(workerId: id, partitions: ps, committed: ps.map { _ in 0 }))), now: now)
    }

    func owners() -> [Int32: String] {
        var out: [Int32: String] = [:]
        for (i, s) in m.slots.enumerated() { if let o = s.owner { out[Int32(i)] = o } }
        return out
    }
    func counts() -> [String: Int] { owners().values.reduce(into: [:]) { $0[$1, default: 0] += 1 } }

    static func revokes(_ ds: [Membership.Directive], to id: String) -> [PartitionLease] {
        ds.flatMap { d -> [PartitionLease] in
            if case .send(id, .revoke(let a)) = d { return a.partitions }
            return []
        }
    }
    static func assigns(_ ds: [Membership.Directive], to id: String) -> [PartitionLease] {
        ds.flatMap { d -> [PartitionLease] in
            if case .send(id, .assign(let a)) = d { return a.partitions }
            return []
        }
    }

    @Test("first worker gets everything; a second gets half, revoke-first")
    mutating func joinSplits() {
        let d1 = hello("a")
        #expect(d1.contains(.welcome(to: "a")))
        #expect(Self.assigns(d1, to: "a").count == 8)
        #expect(counts() == ["a": 8])

        let d2 = hello("b")
        let rev = Self.revokes(d2, to: "a")
        #expect(rev.count == 4)
        // Nothing is given to b before a confirms: no partition has two owners.
        #expect(Self.assigns(d2, to: "b").isEmpty)
        #expect(counts() == ["a": 8])

        let d3 = revoked("a", rev)
        let got = Self.assigns(d3, to: "b")
        #expect(Set(got.map(\.partition)) == Set(rev.map(\.partition)))
        #expect(got.allSatisfy { $0.epoch == 2 })  // a new epoch for the new owner
        #expect(counts() == ["a": 4, "b": 4])
    }

    @Test("adding workers one after another moves only what balance needs")
    mutating func stickyScaleOut() {
        _ = hello("a")
        var totalMoved = 0
        for (i, w) in ["b", "c", "d"].enumerated() {
            let before = owners()
            let d = hello(w)
            let rev = Self.revokes(d, to: "a") + Self.revokes(d, to: "b") + Self.revokes(d, to: "c")
            for owner in ["a", "b", "c"] { _ = revoked(owner, Self.revokes(d, to: owner)) }
            let after = owners()
            let moved = before.filter { after[$0.key] != $0.value }.count
            #expect(moved == rev.count)
            totalMoved += moved
            let k = i + 2
            #expect(counts().values.allSatisfy { $0 == 8 / k || $0 == (8 + k - 1) / k }, "unbalanced: \(counts())")
            #expect(owners().count == 8)
        }
        // 8 -> 4/4 (4 moves) -> 3/3/2 (2 moves) -> 2/2/2/2 (2 moves): the minimum.
        #expect(totalMoved == 8)
    }

    @Test("a silent worker is declared dead after the timeout; its partitions move at once")
    mutating func crash() {
        _ = hello("a")
        _ = hello("b")
        _ = revoked("a", m.partitions(of: "a").filter { m.slots[Int($0.partition)].movingTo == "b" })
        #expect(counts() == ["a": 4, "b": 4])
        let bParts = m.partitions(of: "b")
        // a keeps beating, b goes silent.
        for t in stride(from: Int64(500), through: 3000, by: 500) {
            now = t
            _ = beat("a")
            _ = m.handle(.tick, now: now)
        }
        #expect(m.members["b"]?.state != .dead)
        now = 3600
        _ = beat("a")
        let d = m.handle(.tick, now: now)
        #expect(m.members["b"]?.state == .dead)
        let given = Self.assigns(d, to: "a")
        #expect(Set(given.map(\.partition)) == Set(bParts.map(\.partition)))
        // Each moved partition's epoch is higher than under its dead owner.
        for g in given { #expect(g.epoch > bParts.first { $0.partition == g.partition }!.epoch) }
        #expect(counts() == ["a": 8])
        // A late heartbeat from the dead worker is told to register again, not trusted.
        let late = beat("b")
        #expect(late.contains { if case .send("b", .reregister) = $0 { return true }; return false })
    }

    @Test("a leaving worker is acknowledged; its partitions go to the others under new epochs")
    mutating func leave() {
        _ = hello("a")
        let split = hello("b")
        _ = revoked("a", Self.revokes(split, to: "a"))
        #expect(counts() == ["a": 4, "b": 4])
        // Graceful leave: b hands everything back, then says it leaves.
        let bParts = m.partitions(of: "b")
        _ = revoked("b", bParts)
        let d = m.handle(.message(from: "b", .leaving(Leaving(workerId: "b"))), now: now)
        #expect(d.contains(.send(to: "b", .left(Leaving(workerId: "b")))))
        #expect(m.members["b"] == nil)
        #expect(counts() == ["a": 8])
        for p in bParts { #expect(m.slots[Int(p.partition)].epoch > p.epoch) }
    }

    @Test("a restarted coordinator adopts what workers hold instead of reshuffling")
    mutating func restartAdopts() {
        m = Membership(partitions: 4, settings: .init(failureTimeoutMs: 3000, startupGraceMs: 1500), now: 0)
        let held = [PartitionLease(partition: 0, epoch: 7), PartitionLease(partition: 2, epoch: 3)]
        let d = hello("a", held: held)
        #expect(Self.revokes(d, to: "a").isEmpty)
        now = 100
        _ = hello("b", held: [PartitionLease(partition: 1, epoch: 2), PartitionLease(partition: 3, epoch: 5)])
        #expect(owners() == [0: "a", 2: "a", 1: "b", 3: "b"])
        #expect(m.slots[0].epoch == 7)
        // After the grace period: balanced already, nothing moves.
        now = 2000
        let t = m.handle(.tick, now: now)
        #expect(!t.contains { if case .send(_, .revoke) = $0 { return true }; return false })
        #expect(m.moves == 0)
    }

    @Test("no partition is assigned during the startup grace period")
    mutating func grace() {
        m = Membership(partitions: 4, settings: .init(failureTimeoutMs: 3000, startupGraceMs: 1500), now: 0)
        #expect(Self.assigns(hello("a"), to: "a").isEmpty)
        now = 1000
        _ = beat("a")
        now = 1600
        #expect(Self.assigns(m.handle(.tick, now: now), to: "a").count == 4)
    }

    @Test("a claim on a partition someone else owns is refused")
    mutating func conflictingClaim() {
        _ = hello("a")
        let d = hello("b", held: [PartitionLease(partition: 0, epoch: 1)])
        #expect(Self.revokes(d, to: "b").contains(PartitionLease(partition: 0, epoch: 1)))
        #expect(owners()[0] == "a")
    }

    @Test("new input partitions are noticed and assigned")
    mutating func growth() {
        _ = hello("a")
        let d = m.handle(.partitionCount(10), now: now)
        #expect(Set(Self.assigns(d, to: "a").map(\.partition)) == [8, 9])
    }

    @Test("with a rebalance delay, workers joining together are placed in one step with the fewest moves")
    mutating func delayedRebalance() {
        m = Membership(partitions: 12, settings: .init(failureTimeoutMs: 3000, startupGraceMs: 0, rebalanceDelayMs: 200), now: 0)
        _ = hello("a")
        now = 200
        #expect(Self.assigns(m.handle(.tick, now: now), to: "a").count == 12)
        // b at 300, c at 400: nothing moves until the membership is quiet for 200 ms.
        now = 300
        #expect(Self.revokes(hello("b"), to: "a").isEmpty)
        now = 400
        #expect(Self.revokes(hello("c"), to: "a").isEmpty)
        now = 500
        #expect(Self.revokes(m.handle(.tick, now: now), to: "a").isEmpty)
        now = 600
        let d = m.handle(.tick, now: now)
        let rev = Self.revokes(d, to: "a")
        #expect(rev.count == 8)  // one revoke of the 8 that leave a: none moves twice
        _ = revoked("a", rev)
        #expect(counts() == ["a": 4, "b": 4, "c": 4])
        #expect(m.moves == 12 + 8)
    }

    @Test("under steady churn the delayed rebalance still comes, after 10 delays at most")
    mutating func delayedRebalanceBounded() {
        m = Membership(partitions: 40, settings: .init(failureTimeoutMs: 1_000_000, startupGraceMs: 0, rebalanceDelayMs: 100), now: 0)
        _ = hello("w0")
        now = 100
        _ = m.handle(.tick, now: now)
        var firstRevoke: Int64?
        for i in 1...30 where firstRevoke == nil {
            now = 100 + Int64(i) * 50  // a join every 50 ms, never 100 ms of quiet
            if !Self.revokes(hello("w\(i)"), to: "w0").isEmpty { firstRevoke = now }
        }
        #expect(firstRevoke == 1150)  // the first join (150) + 10 × 100 ms
    }

    @Test("a heartbeat of a live worker decides nothing; one of a suspect that recovers rebalances")
    mutating func heartbeatsAreCheap() {
        _ = hello("a")
        _ = revoked("a", Self.revokes(hello("b"), to: "a"))
        #expect(counts() == ["a": 4, "b": 4])
        #expect(beat("a").isEmpty)
        now = 1600  // a suspect (silent > failure timeout / 2) gets nothing new...
        _ = beat("b")
        _ = m.handle(.tick, now: now)
        #expect(m.members["a"]?.state == .suspect)
        #expect(beat("a").isEmpty)  // ...and back to up: nothing to move, the map is balanced
        #expect(m.members["a"]?.state == .up)
        #expect(counts() == ["a": 4, "b": 4])
    }
}
