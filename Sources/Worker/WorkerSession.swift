import Models
import Wire

/// The worker's side of the link to the coordinator, as a pure state machine: registration
/// (hello until welcomed), the lease (stop every partition when the coordinator has been
/// silent, or when we could not heartbeat, for longer than it), heartbeats, and the model
/// sync timer with its delta. `Membership` is the other end of the same link. Time comes in
/// with every call; the shell (`WorkerService`) sends what the directives say.
public struct WorkerSession: Sendable, Equatable {
    public enum Directive: Sendable, Equatable {
        case sendHello
        /// No answer for `seconds`: is the coordinator running, is our id in use?
        case warnUnanswered(seconds: Int64)
        /// Stop every partition without acknowledging: the coordinator may have given them away.
        case stopAll(Fence)
        case heartbeat
        /// The sync interval elapsed: send a model delta if there is one (`makeDelta`).
        case sync
    }

    public enum Fence: Sendable, Equatable {
        /// We sent no heartbeat for `ms` (the process was stopped or starved).
        case noHeartbeatSent(ms: Int64)
        /// The coordinator said nothing for `ms`.
        case coordinatorSilent(ms: Int64)
    }

    public private(set) var welcomed = false
    public private(set) var heartbeatMs: Int64 = 500
    public private(set) var leaseMs: Int64 = 2000
    public private(set) var syncMs: Int64 = 0
    /// `sync_every_samples`: also sync once this many labelled samples were learnt (0 = off).
    public private(set) var syncSamples = 0
    public private(set) var lastHeardMs: Int64 = 0
    public private(set) var lastHeartbeatAt: Int64?
    private var lastHello: Int64 = Int64.min / 2
    private var unansweredSince: Int64?
    private var lastUnansweredWarning: Int64 = Int64.min / 2
    private var lastSync: Int64
    /// A new coordinator process welcomed us: sync as soon as there is anything to send (the
    /// welcome resets the sync state, so right after it there may be nothing yet), not an
    /// interval later.
    private var syncOwed = false
    private var pendingSince: Int64 = 0
    /// Parameter averaging: the global version adopted and the delta in flight.
    public private(set) var sync = SyncState()
    /// Deltas abandoned for want of a version merging them (the shell sends the next ones
    /// straight to the coordinator for a while when they went through a relay).
    public private(set) var unmerged = 0
    /// The coordinator process of the last welcome (`Welcome.incarnation`).
    public private(set) var coordinatorIncarnation: Int64?

    public init(now: Int64) { lastSync = now }

    // MARK: events

    /// Any message from the coordinator.
    public mutating func heard(now: Int64) { lastHeardMs = now }

    /// The coordinator's welcome: its timings; the model sync restarts from `version`.
    /// From another coordinator process than the last welcome's (a restart, a takeover), the
    /// delta in flight went to merge state that is gone: it is dropped at once (its progress is
    /// still in `local − base`, so it goes in the next delta) and the next sync is due now, so
    /// a new global version comes within a sync interval or two instead of after the 5
    /// intervals an unanswered delta waits.
    public mutating func welcome(heartbeatMs: Int64, leaseMs: Int64, syncMs: Int64, syncSamples: Int = 0,
                                 incarnation: Int64? = nil, now: Int64 = 0) {
        self.heartbeatMs = heartbeatMs
        self.leaseMs = leaseMs
        self.syncMs = syncMs
        self.syncSamples = syncSamples
        welcomed = true
        if let incarnation {
            if let known = coordinatorIncarnation, known != incarnation {
                sync.abandonPending()
                lastSync = now - syncMs
                syncOwed = true
            }
            coordinatorIncarnation = incarnation
        }
    }

    /// The coordinator asks us to register again (it restarted, or lost us). Answered once:
    /// several may arrive at once (one per queued heartbeat).
    public mutating func reregister() -> [Directive] {
        guard welcomed else { return [] }
        welcomed = false
        return [.sendHello]
    }

    /// The welcome could not be acted on (the Kafka clients did not start): keep saying hello.
    public mutating func welcomeFailed() { welcomed = false }

    /// One loop turn. `holding`: this worker holds partitions.
    public mutating func tick(now: Int64, holding: Bool) -> [Directive] {
        var out: [Directive] = []
        // Away longer than the lease without a heartbeat (stopped or starved): the
        // coordinator may have declared us dead and given our partitions away. Checked before
        // the messages that queued meanwhile are read (the shell ticks first), because any of
        // them would make the silence check below look satisfied.
        if welcomed && holding, let last = lastHeartbeatAt, now - last > leaseMs {
            out.append(.stopAll(.noHeartbeatSent(ms: now - last)))
            welcomed = false
        }
        return out
    }

    /// After control messages are read: hello, lease, heartbeat and sync timers.
    public mutating func timers(now: Int64, holding: Bool) -> [Directive] {
        var out: [Directive] = []
        var holding = holding
        if !welcomed && now - lastHello >= 1000 {
            lastHello = now
            out.append(.sendHello)
            let since = unansweredSince ?? now
            unansweredSince = since
            if now - since >= 5000 && now - lastUnansweredWarning >= 10_000 {
                lastUnansweredWarning = now
                out.append(.warnUnanswered(seconds: (now - since) / 1000))
            }
        } else if welcomed {
            unansweredSince = nil
        }
        // The lease runs whether or not we are registered: partitions held while the
        // coordinator is silent must stop on time (it may have given them away).
        if now - lastHeardMs > leaseMs && (welcomed || holding) {
            if holding {
                out.append(.stopAll(.coordinatorSilent(ms: now - lastHeardMs)))
                holding = false
            }
            welcomed = false
        }
        if heartbeatDue(now: now) { out.append(.heartbeat) }
        let byTime = syncMs > 0 && (now - lastSync >= syncMs || (syncOwed && sync.samples > 0))
        // By samples: checked every turn, so a fast stream sends as soon as a version came back.
        let bySamples = syncSamples > 0 && sync.samples >= syncSamples
        if welcomed && (byTime || bySamples) {
            // A delta never merged (coordinator restarted, delta rejected) is abandoned after
            // 5 intervals (5 s when syncing by samples alone); its progress is still in
            // `local − base`, so none is lost.
            if sync.pending != nil && now - pendingSince > 5 * (syncMs > 0 ? syncMs : 1000) {
                sync.abandonPending()
                unmerged += 1
            }
            if byTime || sync.pending == nil {
                lastSync = now
                out.append(.sync)
            }
        }
        return out
    }

    /// Whether a heartbeat is due now; if so it counts as sent. Also asked between batches
    /// of records, so a long turn still heartbeats.
    public mutating func heartbeatDue(now: Int64) -> Bool {
        guard welcomed && (lastHeartbeatAt.map { now - $0 >= heartbeatMs } ?? true) else { return false }
        lastHeartbeatAt = now
        return true
    }


    // MARK: model sync

    /// Starts averaging afresh from the global `version` whose parameters (weights, then
    /// scaler moments) are `base`.
    public mutating func resetSync(version: Int, base: [Double]) {
        sync = SyncState(version: version, base: base)
    }

    /// A version as its weights: a whole one as it is; one sent as a difference
    /// (`ModelUpdate.diff`) applied to the weights of the version it was taken from, which our
    /// base must be. nil: we do not hold that version (a message lost, or the base moved on):
    /// the shell asks for the version whole (`WorkerReport.modelMissed`). An older version
    /// than ours expands to itself, which the rebase ignores.
    public func expand(_ u: ModelUpdate) -> ModelUpdate? {
        guard let from = u.diffFrom, let diff = u.diff, u.version > sync.version else { return u }
        guard from == sync.version, let width = u.width, width <= sync.base.count,
              let weights = diff.apply(to: sync.base[..<width]) else { return nil }
        var whole = u
        whole.parameters = weights
        whole.diff = nil
        whole.diffFrom = nil
        whole.width = nil
        return whole
    }

    /// `count` labelled records were learnt from.
    public mutating func learnt(_ count: Int = 1) { sync.samples += count }

    /// The delta to send now, if any: `current − base` over the models' weights and scaler
    /// moments, split back into the two parts the wire carries.
    /// With `compression`, the weights travel compressed unless exact sparse pairs are smaller;
    /// the scaler moments (counts and sums) always exactly.
    public mutating func makeDelta(parameters: [Double], scalerMoments: [Double], worker: String, now: Int64,
                                   compression: DeltaCompression = .none) -> ModelDelta? {
        guard var d = sync.makeDelta(current: parameters + scalerMoments, worker: worker) else { return nil }
        let p = parameters.count
        d.scaler = Array(d.delta[p...])
        d.delta = Array(d.delta[..<p])
        d.width = p
        if let (bytes, decoded) = compression.encodeIfSmaller(d.delta) {
            d.delta = decoded
            d.compressed = bytes
            d.compression = compression
            sync.sent(decoded)
        }
        pendingSince = now
        syncOwed = false
        return d
    }

    /// Local parameters and scaler moments after a new global version: its weights plus our
    /// progress since our base (or since our delta, if the version merged it). A version
    /// without scaler moments leaves ours as they are.
    public mutating func rebase(parameters: [Double], scalerMoments: [Double], onto u: ModelUpdate, worker: String)
        -> (parameters: [Double], scalerMoments: [Double]) {
        var extended = u
        extended.parameters = u.parameters
            + (u.scaler.count == scalerMoments.count ? u.scaler : Array(sync.base.suffix(scalerMoments.count)))
        let local = sync.rebase(current: parameters + scalerMoments, onto: extended, me: worker)
        let p = parameters.count
        return (Array(local[..<p]), Array(local[p...]))
    }
}
