/// One input partition's life on a worker, as a pure state machine: the worker's shell feeds
/// it what happened (assigned, restored, a record read, an output delivered, a commit tick,
/// a revoke) and executes what it returns (assign, read the changelog, take and write a
/// capture, commit, release). No I/O, no clock of its own (`now` comes in with the events),
/// so every state and failure is driven by unit tests without sockets; the shell is
/// `WorkerService` (as `SWIM.Instance` sits under its NIO shell in swift-cluster-membership).
///
/// Phases: fencing (exactly-once: the partition's transactional producer is opened, which
/// fences every earlier owner) → restoring (stateful specs: the feature state is read from the
/// changelog, off the loop) → running → draining (revoked or fenced: unassigned; outputs and
/// the last capture finish, bounded by `stopTimeoutMs`) → released.
///
/// Invariant (at-least-once, stateful): the changelog's newest complete capture covers exactly
/// the input offsets below `durable`, and every output below it is delivered; commits never
/// pass it. So whoever resumes the partition from the changelog recomputes the very features
/// an uninterrupted run would have.
public struct PartitionLifecycle: Sendable, Equatable {
    public struct Settings: Sendable, Equatable {
        public var stateful: Bool
        public var exactlyOnce: Bool
        /// How long a stop waits for outputs and the last capture before it releases anyway
        /// (the next owner then replays what was not committed).
        public var stopTimeoutMs: Int64
        public init(stateful: Bool, exactlyOnce: Bool = false, stopTimeoutMs: Int64 = 10_000) {
            self.stateful = stateful
            self.exactlyOnce = exactlyOnce
            self.stopTimeoutMs = stopTimeoutMs
        }
    }

    public enum Phase: Sendable, Equatable {
        case fencing, restoring, running
        case draining(ack: Bool, deadline: Int64)
        case released
    }

    public enum Directive: Sendable, Equatable {
        /// Exactly-once: make the partition's transactional producer and init its transactions.
        case openTransactions
        /// Read the partition's feature changelog (off the loop); answer with `restored`.
        case readChangelog
        /// Hand the partition to the consumer at this offset, or at the group's commit.
        case assign(from: Int64?)
        /// Look up the committed offset for status (off the loop); answer with `committedKnown`.
        case lookUpCommitted
        case unassign
        /// Capture the feature state now, as of input offset `at` (the shell keeps the records).
        case capture(at: Int64)
        /// Queue the capture taken at `at` to the changelog: `captureQueued` per record, then
        /// `captureWritten`.
        case writeCapture(at: Int64)
        /// Part of a capture is missing: the next capture must rewrite everything.
        case requestFullSnapshot
        /// Commit the input offset (asynchronously while running, synchronously at release).
        case commit(Int64, final: Bool)
        /// Exactly-once: commit the open transaction with the offset `at` (and a capture if
        /// the state changed); answer with `transactionCommitted` or a failure.
        case commitTransaction(at: Int64)
        /// A delivery failed: replay the partition from its last commit (a fresh run).
        case rewind
        /// Done: forget the partition; with `ack`, tell the coordinator it is free.
        case release(ack: Bool)
    }

    public let partition: Int32
    public var epoch: Int
    public let settings: Settings
    public private(set) var phase: Phase
    public private(set) var tracker = OffsetTracker()
    /// Next offset to read (last seen + 1), -1 until the first record or a restore.
    public private(set) var position: Int64 = -1
    public private(set) var committed: Int64
    /// See the invariant above; -1 until the first complete capture (or a restore).
    public private(set) var durable: Int64 = -1
    public private(set) var processed: Int64 = 0
    /// A capture taken at this offset, waiting until every output below it is delivered.
    public private(set) var captureAt: Int64?
    public private(set) var changelogInFlight = 0
    private var changelogFailed = false
    private var inFlightOffset: Int64 = -1
    /// Exactly-once: a transaction is open (begun at the first output after a commit).
    public private(set) var transactionOpen = false

    public init(partition: Int32, epoch: Int, committed: Int64 = -1, settings: Settings) {
        self.partition = partition
        self.epoch = epoch
        self.committed = committed
        self.settings = settings
        phase = settings.exactlyOnce ? .fencing : .restoring
    }

    /// Running is the one phase in which the partition is assigned to the consumer (a stop
    /// unassigns first).
    public var isRunning: Bool { phase == .running }
    public var isDraining: Bool { if case .draining = phase { true } else { false } }

    // MARK: start

    /// The coordinator assigned the partition.
    public mutating func start() -> [Directive] {
        settings.exactlyOnce ? [.openTransactions] : begin()
    }

    /// Exactly-once: the transactional producer is ready (every earlier owner fenced), or
    /// could not be made (the partition is handed back).
    public mutating func fenced(_ ok: Bool) -> [Directive] {
        guard phase == .fencing else { return [] }
        guard ok else {
            phase = .released
            return [.release(ack: true)]
        }
        return begin()
    }

    private mutating func begin() -> [Directive] {
        if settings.stateful {
            phase = .restoring
            return [.readChangelog]
        }
        phase = .running
        return [.assign(from: nil), .lookUpCommitted]
    }

    /// The changelog was read: `next` is the input offset its state covers (nil: no
    /// checkpoint, or it could not be read; the partition starts from its commit with empty
    /// state).
    public mutating func restored(next: Int64?) -> [Directive] {
        guard phase == .restoring else { return [] }
        phase = .running
        guard let next else { return [.assign(from: nil), .lookUpCommitted] }
        position = next
        durable = next
        // At-least-once: the capture was written after every output below it was delivered,
        // so `next` is committable now; a partition restored at the end of its input commits
        // there at once. (Exactly-once commits offsets in its transactions instead.)
        guard settings.exactlyOnce else {
            tracker = OffsetTracker(resumingAt: next)
            return [.assign(from: next)]
        }
        // Exactly-once: the commit is looked up to check the capture is not ahead of it.
        return [.assign(from: next), .lookUpCommitted]
    }

    /// Where the group's commit stands (looked up for status; never moves backwards).
    public mutating func committedKnown(_ offset: Int64) {
        if offset > committed { committed = offset }
    }

    // MARK: records

    /// A record at `offset` reached the pipeline. Returns how many offsets before it were
    /// never read (deleted by the broker first, or compacted away). Only records seen in this
    /// run count: a looked-up commit can trail asynchronous commits still landing.
    @inline(__always)
    public mutating func read(_ offset: Int64) -> Int64 {
        let skipped = position >= 0 && offset > position ? offset - position : 0
        position = offset + 1
        processed += 1
        return skipped
    }

    /// Whether the record at `offset` was read already in this run (it is below the next offset
    /// to read, from a record or a restore): a record the consumer delivered again, which must
    /// not be processed twice. librdkafka 2.0 fetches again from a stale start offset in rare
    /// cases (a pause or resume during its offset lookup); a rewind starts a new run.
    @inline(__always)
    public func readAlready(_ offset: Int64) -> Bool { offset < position }

    /// The record's output (prediction or dead letter) was queued.
    @inline(__always)
    public mutating func produced(_ offset: Int64) { tracker.produced(offset) }

    /// The output of `offset` was delivered.
    @inline(__always)
    public mutating func delivered(_ offset: Int64) { tracker.delivered(offset) }

    /// A record with no output (late, dropped): done at once.
    public mutating func finished(_ offset: Int64) {
        tracker.produced(offset)
        tracker.delivered(offset)
    }

    /// An output was not delivered after librdkafka's own retries.
    public func deliveryFailed() -> [Directive] { isRunning ? [.rewind] : [] }

    // MARK: checkpoints and commits

    /// Records read since the last capture, or state changed otherwise (`dirty`).
    public func hasUncaptured(dirty: Bool) -> Bool {
        position >= 0 && (position > durable || dirty)
    }

    public func needsCheckpoint(dirty: Bool) -> Bool {
        captureAt != nil || changelogInFlight > 0 || hasUncaptured(dirty: dirty)
    }

    /// The commit interval elapsed. `dirty`: the feature state changed besides records.
    public mutating func commitTick(dirty: Bool) -> [Directive] {
        guard isRunning else { return [] }
        if settings.exactlyOnce {
            // Read past the commit with nothing written (a restore that resumed ahead of it):
            // a transaction carries the offset alone.
            // Labels learnt since (`dirty`) change the state a transaction carries too.
            guard position >= 0, transactionOpen || position > committed || dirty else { return [] }
            return [.commitTransaction(at: position)]
        }
        var out = checkpointStep(dirty: dirty)
        if let c = committableOffset { out.append(.commit(c, final: false)) }
        return out
    }

    /// What may be committed now, if more than what is.
    public var committableOffset: Int64? {
        guard var c = tracker.committable else { return nil }
        if settings.stateful { c = min(c, durable) }
        return c > committed ? c : nil
    }

    /// A commit of `offset` was handed to the broker.
    public mutating func didCommit(_ offset: Int64) {
        if offset > committed { committed = offset }
    }

    /// One step of the checkpoint cycle: take a capture if none is under way, and write it
    /// once every output below its offset is delivered.
    private mutating func checkpointStep(dirty: Bool) -> [Directive] {
        guard settings.stateful else { return [] }
        var out: [Directive] = []
        if captureAt == nil && changelogInFlight == 0 && hasUncaptured(dirty: dirty) {
            captureAt = position
            out.append(.capture(at: position))
        }
        guard let c = captureAt, changelogInFlight == 0 else { return out }
        guard tracker.pending == 0 || (tracker.committable ?? -1) >= c else { return out }
        out.append(.writeCapture(at: c))
        return out
    }

    /// The shell starts queueing the capture taken at `captureAt`.
    public mutating func captureWriteBegan() {
        inFlightOffset = captureAt ?? position
        captureAt = nil
        changelogFailed = false
    }

    /// One record of the capture was queued (its delivery will be reported).
    public mutating func captureRecordQueued() { changelogInFlight += 1 }

    /// The capture's records are queued; `complete` false: some could not be (its offset
    /// never becomes durable, commits wait, and the next capture rewrites everything).
    public mutating func captureWritten(complete: Bool) -> [Directive] {
        if !complete { changelogFailed = true }
        return !complete && changelogInFlight == 0 ? [.requestFullSnapshot] : []
    }

    /// A changelog record's delivery report.
    public mutating func changelogDelivered(ok: Bool) -> [Directive] {
        guard changelogInFlight > 0 else { return [] }
        changelogInFlight -= 1
        if !ok { changelogFailed = true }
        guard changelogInFlight == 0 else { return [] }
        if changelogFailed { return [.requestFullSnapshot] }
        durable = max(durable, inFlightOffset)
        return []
    }

    // MARK: exactly-once

    public mutating func transactionBegun() { transactionOpen = true }

    /// The transaction is committed with offset `at`: everything below it is done.
    public mutating func transactionCommitted(at: Int64) {
        transactionOpen = false
        tracker = OffsetTracker()
        committed = at
        durable = at
        changelogInFlight = 0
    }

    public mutating func transactionAborted() { transactionOpen = false }

    // MARK: stop

    /// Revoked (`ack`: the coordinator waits for our answer), or fenced by our own lease.
    public mutating func stop(ack: Bool, now: Int64) -> [Directive] {
        switch phase {
        case .fencing, .restoring:
            // Never assigned to the consumer: nothing read, nothing to commit.
            phase = .released
            return [.release(ack: ack)]
        case .running:
            phase = .draining(ack: ack, deadline: now + settings.stopTimeoutMs)
            if settings.exactlyOnce {
                // Everything read so far, its outputs and its state, commits as one; if that
                // fails, the next owner replays from the last committed transaction.
                phase = .released
                var out: [Directive] = [.unassign]
                if position >= 0 && (transactionOpen || position > committed) { out.append(.commitTransaction(at: position)) }
                return out + [.release(ack: ack)]
            }
            return [.unassign] + drain(now: now, dirty: false)
        case .draining(let a, let deadline):
            // A second stop only upgrades to an acknowledged one.
            if ack && !a { phase = .draining(ack: true, deadline: deadline) }
            return []
        case .released:
            return []
        }
    }

    /// A loop turn while draining: outputs first, then the last capture (the next owner
    /// continues exactly here), then the final commit and the release. Past the deadline it
    /// releases as it is.
    public mutating func drain(now: Int64, dirty: Bool) -> [Directive] {
        guard case .draining(let ack, let deadline) = phase else { return [] }
        let inTime = now < deadline
        if tracker.pending > 0 && inTime { return [] }
        if settings.stateful && needsCheckpoint(dirty: dirty) && inTime {
            // The state up to the last record read goes to the changelog before the final commit.
            return checkpointStep(dirty: dirty)
        }
        phase = .released
        return (committableOffset.map { [.commit($0, final: true)] } ?? []) + [.release(ack: ack)]
    }

    /// Outputs queued and not yet delivered (a release with some left means the next owner
    /// replays them).
    public var undelivered: Int { tracker.pending }
}
