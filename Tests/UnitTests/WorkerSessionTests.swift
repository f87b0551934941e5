import Testing
import Wire
@testable import Worker

/// The worker's side of the coordinator link, with an injected clock.
@Suite("Worker session")
struct WorkerSessionTests {
    @Test("hello every second until welcomed; a warning after 5 s unanswered, then every 10 s")
    func hello() {
        var s = WorkerSession(now: 0)
        #expect(s.timers(now: 0, holding: false) == [.sendHello])
        #expect(s.timers(now: 500, holding: false) == [])
        #expect(s.timers(now: 1000, holding: false) == [.sendHello])
        #expect(s.timers(now: 5000, holding: false) == [.sendHello, .warnUnanswered(seconds: 5)])
        #expect(s.timers(now: 6000, holding: false) == [.sendHello])
        #expect(s.timers(now: 15_000, holding: false) == [.sendHello, .warnUnanswered(seconds: 15)])
        s.heard(now: 15_100)
        s.welcome(heartbeatMs: 250, leaseMs: 1000, syncMs: 0)
        #expect(s.timers(now: 15_100, holding: false) == [.heartbeat])
        #expect(s.timers(now: 15_200, holding: false) == [])
        #expect(s.timers(now: 15_350, holding: false) == [.heartbeat])
    }

    @Test("the lease: a silent coordinator stops every partition held, and registration starts over")
    func coordinatorSilent() {
        var s = WorkerSession(now: 0)
        s.heard(now: 0)
        s.welcome(heartbeatMs: 250, leaseMs: 1000, syncMs: 0)
        #expect(s.timers(now: 0, holding: true) == [.heartbeat])
        #expect(s.timers(now: 1000, holding: true) == [.heartbeat])
        #expect(s.timers(now: 1001, holding: true) == [.stopAll(.coordinatorSilent(ms: 1001))])
        #expect(!s.welcomed)
        #expect(s.timers(now: 1002, holding: false) == [.sendHello])
        // Not holding anything: registration just starts over, nothing to stop.
        var idle = WorkerSession(now: 0)
        idle.heard(now: 0)
        idle.welcome(heartbeatMs: 250, leaseMs: 1000, syncMs: 0)
        _ = idle.timers(now: 0, holding: false)
        #expect(idle.timers(now: 1500, holding: false) == [])
        #expect(!idle.welcomed)
        #expect(idle.timers(now: 1600, holding: false) == [.sendHello])
    }

    @Test("a starved worker (no heartbeat sent for longer than the lease) stops its partitions before reading what queued")
    func starved() {
        var s = WorkerSession(now: 0)
        s.heard(now: 0)
        s.welcome(heartbeatMs: 250, leaseMs: 1000, syncMs: 0)
        let first = s.heartbeatDue(now: 0), second = s.heartbeatDue(now: 100)
        #expect(first && !second)
        #expect(s.tick(now: 900, holding: true) == [])
        #expect(s.tick(now: 1200, holding: false) == [])  // nothing held: nothing to fence
        #expect(s.tick(now: 1200, holding: true) == [.stopAll(.noHeartbeatSent(ms: 1200))])
        #expect(!s.welcomed)
        let after = s.heartbeatDue(now: 1300)
        #expect(!after)  // not registered: no heartbeats until welcomed again
    }

    @Test("reregister is answered once, however many arrive")
    func reregister() {
        var s = WorkerSession(now: 0)
        s.welcome(heartbeatMs: 500, leaseMs: 2000, syncMs: 0)
        #expect(s.reregister() == [.sendHello])
        #expect(s.reregister() == [])
    }

    @Test("sync: a delta every interval when something was learnt, weights and scaler split; one in flight at a time, abandoned after 5 intervals")
    func sync() {
        var s = WorkerSession(now: 0)
        s.heard(now: 0)
        s.welcome(heartbeatMs: 10_000, leaseMs: 100_000, syncMs: 1000)
        s.resetSync(version: 3, base: [1, 2, 10, 20])
        _ = s.timers(now: 0, holding: false)
        #expect(s.timers(now: 999, holding: false) == [])
        #expect(s.timers(now: 1000, holding: false) == [.sync])
        #expect(s.makeDelta(parameters: [1, 2], scalerMoments: [10, 20], worker: "w", now: 1000) == nil)  // nothing learnt
        s.learnt()
        s.learnt()
        let d = s.makeDelta(parameters: [1.5, 2], scalerMoments: [11, 20], worker: "w", now: 1000)
        #expect(d?.delta == [0.5, 0] && d?.scaler == [1, 0] && d?.samples == 2 && d?.baseVersion == 3)
        s.learnt()
        #expect(s.makeDelta(parameters: [2, 2], scalerMoments: [11, 20], worker: "w", now: 2000) == nil)  // one in flight
        // Never merged: abandoned after 5 intervals; its progress goes out with the next one.
        for t in stride(from: Int64(2000), through: 6000, by: 1000) { _ = s.timers(now: t, holding: false) }
        #expect(s.sync.pending != nil)
        _ = s.timers(now: 7000, holding: false)
        #expect(s.sync.pending == nil)
        let again = s.makeDelta(parameters: [2, 2], scalerMoments: [11, 20], worker: "w", now: 7000)
        #expect(again?.delta == [1, 0] && again?.samples == 3)
    }

    @Test("a welcome from a new coordinator process drops the delta in flight at once and makes a sync due now; the same coordinator's welcome keeps it")
    func coordinatorRestart() {
        var s = WorkerSession(now: 0)
        s.heard(now: 0)
        s.welcome(heartbeatMs: 10_000, leaseMs: 100_000, syncMs: 1000, incarnation: 111, now: 0)
        s.resetSync(version: 3, base: [0, 0])
        _ = s.timers(now: 0, holding: false)
        s.learnt()
        #expect(s.makeDelta(parameters: [1], scalerMoments: [0], worker: "w", now: 1000) != nil)
        // The same coordinator welcomes us again (a re-registration): the delta may still merge.
        s.welcome(heartbeatMs: 10_000, leaseMs: 100_000, syncMs: 1000, incarnation: 111, now: 1200)
        #expect(s.sync.pending != nil)
        // A restarted one: its merge state is gone. Dropped, and a sync is due at once.
        s.welcome(heartbeatMs: 10_000, leaseMs: 100_000, syncMs: 1000, incarnation: 222, now: 1300)
        #expect(s.sync.pending == nil && s.coordinatorIncarnation == 222)
        #expect(s.timers(now: 1300, holding: false).contains(.sync))
        let again = s.makeDelta(parameters: [1], scalerMoments: [0], worker: "w", now: 1300)
        #expect(again?.delta == [1] && again?.samples == 1, "the dropped delta's progress goes out again")
    }

    @Test("rebase onto a version that merged our delta keeps only what was learnt since; a version without scaler moments keeps ours")
    func rebase() {
        var s = WorkerSession(now: 0)
        s.resetSync(version: 1, base: [0, 0, 5])
        s.learnt()
        let d = s.makeDelta(parameters: [1, 1], scalerMoments: [6], worker: "w", now: 0)!
        var u = ModelUpdate(version: 2, contributions: ["w": d.seq], parameters: [0.5, 0.5])
        u.scaler = [7]
        let local = s.rebase(parameters: [2, 1], scalerMoments: [6], onto: u, worker: "w")
        #expect(local.parameters == [1.5, 0.5] && local.scalerMoments == [7])
        let v = ModelUpdate(version: 3, contributions: [:], parameters: [1, 1])
        let kept = s.rebase(parameters: local.parameters, scalerMoments: local.scalerMoments, onto: v, worker: "w")
        // Nothing of ours merged: g + (local − base) = [1, 1] + ([1.5, 0.5] − [0.5, 0.5]).
        #expect(kept.parameters == [2, 1] && kept.scalerMoments == [7])
    }

    @Test("sync_every_samples: a delta is due once that many samples were learnt and none is in flight; the next waits for the version")
    func syncBySamples() {
        var s = WorkerSession(now: 0)
        s.welcome(heartbeatMs: 250, leaseMs: 1000, syncMs: 0, syncSamples: 5)
        s.heard(now: 0)
        s.resetSync(version: 0, base: [0])
        s.learnt(4)
        #expect(!s.timers(now: 1, holding: true).contains(.sync))
        s.learnt(1)
        #expect(s.timers(now: 2, holding: true).contains(.sync))
        #expect(s.makeDelta(parameters: [1], scalerMoments: [], worker: "w", now: 2) != nil)
        s.learnt(50)
        #expect(!s.timers(now: 3, holding: true).contains(.sync), "one delta in flight at a time")
        _ = s.rebase(parameters: [1], scalerMoments: [], onto: ModelUpdate(version: 1, contributions: ["w": 1], parameters: [1]), worker: "w")
        #expect(s.timers(now: 4, holding: true).contains(.sync), "the version came back: the 50 samples learnt meanwhile go now")
        // Never merged (a rejected delta): abandoned after 5 s when syncing by samples alone.
        _ = s.makeDelta(parameters: [2], scalerMoments: [], worker: "w", now: 4)
        s.learnt(5)
        s.heard(now: 4000)
        #expect(!s.timers(now: 4000, holding: true).contains(.sync))
        s.heard(now: 5005)
        #expect(s.timers(now: 5005, holding: true).contains(.sync))
        #expect(s.sync.pending == nil && s.sync.samples == 55)
    }

    @Test("after a new coordinator's welcome the next delta goes as soon as anything is learnt, not an interval later")
    func syncOwedAfterRestart() {
        var s = WorkerSession(now: 0)
        s.welcome(heartbeatMs: 250, leaseMs: 5000, syncMs: 1000, incarnation: 1, now: 0)
        s.heard(now: 100)
        s.resetSync(version: 0, base: [0])
        s.welcome(heartbeatMs: 250, leaseMs: 5000, syncMs: 1000, incarnation: 2, now: 100)
        // The shell resets the sync state after the welcome: nothing to send yet.
        s.resetSync(version: 3, base: [0])
        #expect(s.timers(now: 100, holding: true).contains(.sync), "due at once")
        #expect(s.makeDelta(parameters: [0], scalerMoments: [], worker: "w", now: 100) == nil)
        #expect(!s.timers(now: 150, holding: true).contains(.sync))
        s.learnt(1)
        #expect(s.timers(now: 160, holding: true).contains(.sync), "owed: the first sample goes now")
        #expect(s.makeDelta(parameters: [1], scalerMoments: [], worker: "w", now: 160) != nil)
        _ = s.rebase(parameters: [1], scalerMoments: [], onto: ModelUpdate(version: 4, contributions: ["w": 1], parameters: [1]), worker: "w")
        s.learnt(1)
        #expect(!s.timers(now: 200, holding: true).contains(.sync), "then by the interval again")
    }
}
