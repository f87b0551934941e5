import Testing
@testable import Worker

/// Every phase and failure of one partition's life on a worker, driven without sockets.
@Suite("Partition lifecycle")
struct PartitionLifecycleTests {
    typealias L = PartitionLifecycle
    let stateless = L.Settings(stateful: false)
    let stateful = L.Settings(stateful: true, stopTimeoutMs: 1000)
    let eos = L.Settings(stateful: true, exactlyOnce: true)

    @Test("stateless: assigned at its commit at once; commits follow delivered outputs; a revoke drains, commits, then acknowledges")
    func statelessLife() {
        var l = L(partition: 3, epoch: 2, settings: stateless)
        #expect(l.start() == [.assign(from: nil), .lookUpCommitted])
        #expect(l.isRunning)
        l.committedKnown(100)
        #expect(l.read(100) == 0 && l.read(101) == 0)
        l.produced(100)
        l.produced(101)
        #expect(l.commitTick(dirty: false) == [])  // nothing delivered yet
        l.delivered(100)
        #expect(l.commitTick(dirty: false) == [.commit(101, final: false)])
        l.didCommit(101)
        #expect(l.commitTick(dirty: false) == [])
        // Revoke: unassigned at once, released only when the last output is delivered.
        #expect(l.stop(ack: true, now: 0) == [.unassign])
        #expect(l.isDraining && !l.isRunning)
        #expect(l.drain(now: 10, dirty: false) == [])
        l.delivered(101)
        #expect(l.drain(now: 20, dirty: false) == [.commit(102, final: true), .release(ack: true)])
        #expect(l.phase == .released)
        #expect(l.drain(now: 30, dirty: false) == [])
    }

    @Test("a gap in offsets is reported once, counting only records seen in this run")
    func skipped() {
        var l = L(partition: 0, epoch: 1, committed: 50, settings: stateless)
        _ = l.start()
        #expect(l.read(70) == 0)  // first record: the looked-up commit may trail, no gap claimed
        #expect(l.read(71) == 0)
        #expect(l.read(75) == 3)
        #expect(l.position == 76 && l.processed == 3)
    }

    @Test("a record below the next offset of this run was read already (the consumer delivered it again); from a restore as from a record")
    func readAlready() {
        var l = L(partition: 0, epoch: 1, settings: stateless)
        _ = l.start()
        #expect(!l.readAlready(0))  // nothing read yet: any offset is new
        _ = l.read(10)
        _ = l.read(11)
        #expect(l.readAlready(0) && l.readAlready(11) && !l.readAlready(12))
        var r = L(partition: 1, epoch: 1, settings: stateful)
        _ = r.start()
        _ = r.restored(next: 50)
        #expect(r.readAlready(49) && !r.readAlready(50))
    }

    @Test("stateful: restored off the loop, then assigned at the checkpoint and committable there before any record")
    func restore() {
        var l = L(partition: 1, epoch: 1, settings: stateful)
        #expect(l.start() == [.readChangelog])
        #expect(l.phase == .restoring && !l.isRunning)
        #expect(l.commitTick(dirty: false) == [])  // nothing runs while restoring
        #expect(l.restored(next: 2489) == [.assign(from: 2489)])
        #expect(l.position == 2489 && l.durable == 2489)
        #expect(l.commitTick(dirty: false) == [.commit(2489, final: false)])
        #expect(l.restored(next: 5) == [])  // a late second answer changes nothing
    }

    @Test("stateful with no checkpoint (or an unreadable changelog): starts at its commit with empty state")
    func restoreNothing() {
        var l = L(partition: 1, epoch: 1, settings: stateful)
        _ = l.start()
        #expect(l.restored(next: nil) == [.assign(from: nil), .lookUpCommitted])
        #expect(l.position == -1 && l.durable == -1)
    }

    @Test("checkpoint cycle: capture, write once outputs below it are delivered, durable on the last changelog report; commits never pass durable")
    func checkpoint() {
        var l = L(partition: 0, epoch: 1, settings: stateful)
        _ = l.start()
        _ = l.restored(next: nil)
        for o in Int64(0)..<3 { _ = l.read(o); l.produced(o) }
        // A capture at 3 is taken, but waits for the outputs below it.
        #expect(l.commitTick(dirty: false) == [.capture(at: 3)])
        l.delivered(0); l.delivered(1)
        #expect(l.commitTick(dirty: false) == [])  // committable 2, but durable is -1
        l.delivered(2)
        #expect(l.commitTick(dirty: false) == [.writeCapture(at: 3)])
        l.captureWriteBegan()
        l.captureRecordQueued()
        l.captureRecordQueued()
        #expect(l.captureWritten(complete: true) == [])
        #expect(l.committableOffset == nil)  // durable only when the capture is delivered
        #expect(l.changelogDelivered(ok: true) == [])
        #expect(l.durable == -1)
        #expect(l.changelogDelivered(ok: true) == [])
        #expect(l.durable == 3)
        #expect(l.commitTick(dirty: false) == [.commit(3, final: false)])
        // Nothing new read: no capture; dirty state (expiry) does take one.
        l.didCommit(3)
        #expect(l.commitTick(dirty: false) == [])
        #expect(l.commitTick(dirty: true) == [.capture(at: 3), .writeCapture(at: 3)])
    }

    @Test("a changelog record that fails, or a capture that cannot be queued whole: never durable, and the next capture rewrites everything")
    func checkpointFailures() {
        var l = L(partition: 0, epoch: 1, settings: stateful)
        _ = l.start()
        _ = l.restored(next: 10)
        _ = l.read(10); l.produced(10); l.delivered(10)
        #expect(l.commitTick(dirty: false) == [.capture(at: 11), .writeCapture(at: 11), .commit(10, final: false)])
        l.didCommit(10)
        l.captureWriteBegan()
        l.captureRecordQueued()
        l.captureRecordQueued()
        _ = l.captureWritten(complete: true)
        #expect(l.changelogDelivered(ok: false) == [])
        #expect(l.changelogDelivered(ok: true) == [.requestFullSnapshot])
        #expect(l.durable == 10 && l.committableOffset == nil)
        // Queued in part only (the changelog lacks the partition): nothing in flight to wait for.
        #expect(l.commitTick(dirty: false) == [.capture(at: 11), .writeCapture(at: 11)])
        l.captureWriteBegan()
        #expect(l.captureWritten(complete: false) == [.requestFullSnapshot])
        #expect(l.durable == 10)
        // Reports for no capture in flight are ignored.
        #expect(l.changelogDelivered(ok: true) == [])
    }

    @Test("stop of a stateful partition: outputs, then the final capture, then commit and release; past the deadline it releases as it is")
    func stopStateful() {
        var l = L(partition: 0, epoch: 1, settings: stateful)
        _ = l.start()
        _ = l.restored(next: 0)
        _ = l.read(0); l.produced(0)
        #expect(l.stop(ack: true, now: 0) == [.unassign])
        l.delivered(0)
        #expect(l.drain(now: 1, dirty: false) == [.capture(at: 1), .writeCapture(at: 1)])
        l.captureWriteBegan(); l.captureRecordQueued(); _ = l.captureWritten(complete: true)
        #expect(l.drain(now: 2, dirty: false) == [])
        _ = l.changelogDelivered(ok: true)
        #expect(l.drain(now: 3, dirty: false) == [.commit(1, final: true), .release(ack: true)])

        // A broker that never reports: released at the deadline with what is committable.
        var stuck = L(partition: 0, epoch: 1, settings: stateful)
        _ = stuck.start()
        _ = stuck.restored(next: 5)
        _ = stuck.read(5); stuck.produced(5)
        #expect(stuck.stop(ack: false, now: 0) == [.unassign])
        #expect(stuck.drain(now: 999, dirty: false) == [])
        #expect(stuck.drain(now: 1000, dirty: false) == [.commit(5, final: true), .release(ack: false)])
        #expect(stuck.undelivered == 1)
    }

    @Test("stopped before it ran (restoring or fencing): released at once, never unassigned; a second stop only upgrades to acknowledged")
    func stopEarly() {
        var l = L(partition: 0, epoch: 1, settings: stateful)
        _ = l.start()
        #expect(l.stop(ack: false, now: 0) == [.release(ack: false)])
        #expect(l.restored(next: 4) == [])
        var e = L(partition: 0, epoch: 1, settings: eos)
        #expect(e.start() == [.openTransactions])
        #expect(e.stop(ack: true, now: 0) == [.release(ack: true)])
        var d = L(partition: 0, epoch: 1, settings: stateless)
        _ = d.start(); _ = d.read(0); d.produced(0)
        _ = d.stop(ack: false, now: 0)
        #expect(d.stop(ack: true, now: 1) == [])
        d.delivered(0)
        #expect(d.drain(now: 2, dirty: false) == [.commit(1, final: true), .release(ack: true)])
    }

    @Test("exactly-once: fence first; a failed fence hands the partition back; transactions carry the offset, alone if nothing was written")
    func exactlyOnce() {
        var l = L(partition: 2, epoch: 4, settings: eos)
        #expect(l.start() == [.openTransactions])
        #expect(l.fenced(true) == [.readChangelog])
        #expect(l.restored(next: 7) == [.assign(from: 7), .lookUpCommitted])
        // Restored ahead of the commit with nothing written: the offset commits alone.
        l.committedKnown(3)
        #expect(l.commitTick(dirty: false) == [.commitTransaction(at: 7)])
        l.transactionCommitted(at: 7)
        #expect(l.committed == 7 && l.commitTick(dirty: false) == [])
        _ = l.read(7); l.transactionBegun(); l.produced(7)
        #expect(l.commitTick(dirty: false) == [.commitTransaction(at: 8)])
        l.transactionAborted()
        // Stop: the last transaction, then release, in one step.
        _ = l.read(8); l.transactionBegun()
        #expect(l.stop(ack: true, now: 0) == [.unassign, .commitTransaction(at: 9), .release(ack: true)])
        var refused = L(partition: 2, epoch: 4, settings: eos)
        _ = refused.start()
        #expect(refused.fenced(false) == [.release(ack: true)])
    }

    @Test("a failed delivery rewinds a running partition, and nothing else")
    func deliveryFailure() {
        var l = L(partition: 0, epoch: 1, settings: stateless)
        #expect(l.deliveryFailed() == [])
        _ = l.start()
        #expect(l.deliveryFailed() == [.rewind])
        _ = l.stop(ack: true, now: 0)
        #expect(l.deliveryFailed() == [])
    }

    @Test("delivery tags round-trip kind, partition, generation and offset")
    func tags() {
        for (kind, p, g, o) in [(DeliveryTag.Kind.output, Int32(9_999), 7, DeliveryTag.maxOffset), (.changelog, 0, 3, 0), (.shadow, 42, 12, 123_456_789)] {
            let t = DeliveryTag(kind, partition: p, generation: g, offset: o)
            let back = DeliveryTag(rawValue: t.rawValue)
            #expect(back == t)
            #expect(back.kind == kind && back.partition == p && back.generation == g & 7 && back.offset == o)
        }
    }
}
