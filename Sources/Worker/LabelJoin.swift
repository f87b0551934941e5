import Features

/// One partition's join of served predictions with labels that arrive later on their own
/// topic (`[labels]`). Pure: the worker feeds it what it serves and the labels it reads, with
/// event times; it answers what to learn from. Time is event time, one clock per stream: a
/// prediction expires when the *label* stream has passed its time plus the horizon (so an
/// input read far ahead of its labels, or a paused label stream, expires nothing early), and
/// a label waiting for its prediction when the *event* stream has passed the label's time plus
/// the horizon.
///
/// - A served prediction waits `horizon` seconds of label time for its label; then it
///   expires (learnt as class 0 with `learnNegative`, else dropped; counted either way).
/// - A label whose prediction is not here yet waits until the events pass its time plus the
///   horizon (the label stream may run ahead of the events); then it counts as an unknown id.
/// - A second label for an id already joined is a duplicate: counted, not learnt.
/// - A label for a prediction that expired is late: counted, not learnt (its snapshot is gone),
///   unless `learnLate`: then expired snapshots are kept (as many as `maxPending`, the oldest
///   forgotten first; in memory only, not across a move) and a late label learns from its own.
/// - Beyond `maxPending` waiting predictions, the oldest expire at once (counted as such);
///   beyond `maxPending` early labels, the oldest count as unknown ids at once.
public struct LabelJoin<Snapshot: Sendable>: Sendable {
    public struct Settings: Sendable, Equatable {
        public var horizon: Double
        public var maxPending: Int
        public var learnNegative: Bool
        public var learnLate: Bool
        public init(horizon: Double, maxPending: Int, learnNegative: Bool = false, learnLate: Bool = false) {
            self.horizon = horizon
            self.maxPending = maxPending
            self.learnNegative = learnNegative
            self.learnLate = learnLate
        }
    }

    /// What to learn: the snapshot served, its label, the event time it was served at, and
    /// the label's delay (event time).
    public struct Learn: Sendable {
        public var snapshot: Snapshot
        public var label: Double
        public var delay: Double
        public var time: Double
    }

    public struct Counters: Sendable, Equatable {
        public var joined: Int64 = 0
        public var expired: Int64 = 0
        /// Expired before their horizon because `maxPending` was reached.
        public var evicted: Int64 = 0
        public var late: Int64 = 0
        /// Late labels learnt (`learnLate`), counted in `late` too.
        public var lateLearnt: Int64 = 0
        public var duplicate: Int64 = 0
        public var unknown: Int64 = 0
        public init() {}
    }

    public let settings: Settings
    public private(set) var counters = Counters()
    /// The newest event time served, and the newest label time read.
    public private(set) var eventTime = -Double.infinity
    public private(set) var labelTime = -Double.infinity

    private struct Pending: Sendable { var snapshot: Snapshot; var time: Double; var seq: Int }
    private var pending: [String: Pending] = [:]
    /// Labels that came before their prediction: (label, label time).
    private var early: [String: (label: Double, time: Double, seq: Int)] = [:]
    /// Ids joined or expired recently, so a second label is told apart from an unknown one:
    /// id -> whether it expired (a later label is late) or joined (a duplicate).
    private var settled: [String: Bool] = [:]
    private var settledOrder: [String] = []
    private var settledHead = 0
    /// `learnLate`: the snapshots of expired predictions, while their ids are in `settled`.
    private var expiredKept: [String: Pending] = [:]
    /// Insertion order for expiry and eviction (lazy: an entry whose seq no longer matches
    /// was joined or replaced).
    private var order: [(id: String, time: Double, seq: Int)] = []
    private var orderHead = 0
    private var earlyOrder: [(id: String, time: Double, seq: Int)] = []
    private var earlyHead = 0
    private var seq = 0
    /// Ids whose waiting prediction or early label changed since the last capture.
    private var dirty: Set<String> = []

    public init(settings: Settings) { self.settings = settings }

    /// Whether a capture would write anything.
    public var isDirty: Bool { !dirty.isEmpty }

    /// This join's records for a changelog capture: every waiting prediction ("p" + id) and
    /// early label ("e" + id) for a full snapshot, else the changed ones (a tombstone for one
    /// gone). `encode` writes a snapshot and its event time.
    public mutating func capture(full: Bool, encode: (Snapshot, Double) -> [UInt8]) -> [Changelog.Record] {
        var out: [Changelog.Record] = []
        func earlyBytes(_ e: (label: Double, time: Double, seq: Int)) -> [UInt8] {
            var b = [UInt8]()
            withUnsafeBytes(of: e.label.bitPattern.littleEndian) { b += $0 }
            withUnsafeBytes(of: e.time.bitPattern.littleEndian) { b += $0 }
            return b
        }
        if full {
            for (id, p) in pending { out.append(.init(key: [UInt8(ascii: "p")] + Array(id.utf8), value: encode(p.snapshot, p.time))) }
            for (id, e) in early { out.append(.init(key: [UInt8(ascii: "e")] + Array(id.utf8), value: earlyBytes(e))) }
        } else {
            for id in dirty {
                out.append(.init(key: [UInt8(ascii: "p")] + Array(id.utf8), value: pending[id].map { encode($0.snapshot, $0.time) }))
                out.append(.init(key: [UInt8(ascii: "e")] + Array(id.utf8), value: early[id].map(earlyBytes)))
            }
        }
        dirty.removeAll(keepingCapacity: true)
        return out
    }

    /// A join as a changelog restore left it: the waiting predictions and early labels, in
    /// time order, and the two clocks. `decode` reads a snapshot and its event time (nil: a
    /// record that cannot be read, skipped).
    public init(settings: Settings, restoring side: SideState, decode: ([UInt8]) -> (Snapshot, Double)?) {
        self.settings = settings
        eventTime = side.eventTime
        labelTime = side.sideTime
        var ps: [(String, Snapshot, Double)] = []
        var es: [(String, Double, Double)] = []
        for (key, value) in side.records {
            guard let tag = key.first else { continue }
            let id = String(decoding: key.dropFirst(), as: UTF8.self)
            if tag == UInt8(ascii: "p"), let (snap, t) = decode(value) {
                ps.append((id, snap, t))
            } else if tag == UInt8(ascii: "e"), value.count == 16 {
                let label = value.withUnsafeBytes { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
                let t = value.withUnsafeBytes { Double(bitPattern: UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))) }
                es.append((id, label, t))
            }
        }
        for (id, snap, t) in ps.sorted(by: { $0.2 < $1.2 }) {
            seq += 1
            pending[id] = Pending(snapshot: snap, time: t, seq: seq)
            order.append((id, t, seq))
        }
        for (id, label, t) in es.sorted(by: { $0.2 < $1.2 }) {
            seq += 1
            early[id] = (label, t, seq)
            earlyOrder.append((id, t, seq))
        }
    }

    public var pendingCount: Int { pending.count }
    /// Entries kept for expiry order (live and stale) and ids remembered as settled, for
    /// tests of the memory bound.
    var orderCount: Int { order.count - orderHead }
    var settledCount: Int { settled.count }
    var expiredKeptCount: Int { expiredKept.count }
    public var earlyCount: Int { early.count }

    /// A prediction was served for `id` at event time `time`. Its label may be here already.
    public mutating func served(id: String, time: Double, snapshot: Snapshot) -> [Learn] {
        eventTime = max(eventTime, time)
        if let e = early.removeValue(forKey: id) {
            dirty.insert(id)
            counters.joined += 1
            settle(id, expired: false)
            return [Learn(snapshot: snapshot, label: e.label, delay: max(0, e.time - time), time: time)] + expire()
        }
        seq += 1
        pending[id] = Pending(snapshot: snapshot, time: time, seq: seq)
        order.append((id, time, seq))
        dirty.insert(id)
        var out = expire()
        // Memory bound: the oldest waiting predictions go first.
        while pending.count > settings.maxPending, let (id, p) = popOldest() {
            counters.evicted += 1
            out += expired(id, p)
        }
        return out
    }

    /// A label for `id` at event time `time`.
    public mutating func label(id: String, value: Double, time: Double) -> [Learn] {
        labelTime = max(labelTime, time)
        var out: [Learn] = []
        if let p = pending.removeValue(forKey: id) {
            dirty.insert(id)
            counters.joined += 1
            settle(id, expired: false)
            out.append(Learn(snapshot: p.snapshot, label: value, delay: max(0, time - p.time), time: p.time))
        } else if let expiredBefore = settled[id] {
            if expiredBefore {
                counters.late += 1
                if let p = expiredKept.removeValue(forKey: id) {
                    counters.lateLearnt += 1
                    out.append(Learn(snapshot: p.snapshot, label: value, delay: max(0, time - p.time), time: p.time))
                }
            } else {
                counters.duplicate += 1
            }
        } else if early[id] == nil {
            seq += 1
            early[id] = (value, time, seq)
            earlyOrder.append((id, time, seq))
            dirty.insert(id)
            // Bounded like the predictions: the oldest early label gives up (an unknown id).
            giveUpEarly(keeping: settings.maxPending)
        } else {
            counters.duplicate += 1
        }
        return out + expire()
    }

    /// Moves the streams' clocks on (e.g. a label stream known to have passed a time) and
    /// expires what is due.
    public mutating func advance(events: Double = -.infinity, labels: Double = -.infinity) -> [Learn] {
        eventTime = max(eventTime, events)
        labelTime = max(labelTime, labels)
        return expire()
    }

    private mutating func expire() -> [Learn] {
        var out: [Learn] = []
        let limit = labelTime - settings.horizon
        while orderHead < order.count, order[orderHead].time < limit {
            let o = order[orderHead]
            orderHead += 1
            if let p = pending[o.id], p.seq == o.seq {
                pending[o.id] = nil
                out += expired(o.id, p)
            }
        }
        let earlyLimit = eventTime - settings.horizon
        giveUpEarly(olderThan: earlyLimit)
        compact()
        return out
    }

    /// Early labels, oldest first, beyond `keeping` of them or older than `olderThan` (event
    /// time): their prediction never came (unknown ids).
    private mutating func giveUpEarly(keeping: Int = .max, olderThan limit: Double = -.infinity) {
        while earlyHead < earlyOrder.count, early.count > keeping || earlyOrder[earlyHead].time < limit {
            let o = earlyOrder[earlyHead]
            earlyHead += 1
            if let e = early[o.id], e.seq == o.seq {
                early[o.id] = nil
                dirty.insert(o.id)
                counters.unknown += 1
            }
        }
    }

    /// Expires the oldest waiting prediction at once (a memory bound wider than this join's).
    public mutating func evictOldest() -> [Learn] {
        guard let (id, p) = popOldest() else { return [] }
        counters.evicted += 1
        return expired(id, p)
    }

    private mutating func popOldest() -> (String, Pending)? {
        while orderHead < order.count {
            let o = order[orderHead]
            orderHead += 1
            if let p = pending[o.id], p.seq == o.seq {
                pending[o.id] = nil
                return (o.id, p)
            }
        }
        return nil
    }

    private mutating func expired(_ id: String, _ p: Pending) -> [Learn] {
        dirty.insert(id)
        counters.expired += 1
        settle(id, expired: true)
        if settings.learnLate { expiredKept[id] = p }
        return settings.learnNegative ? [Learn(snapshot: p.snapshot, label: 0, delay: settings.horizon, time: p.time)] : []
    }

    /// Remembers how an id ended, for as many ids as predictions may wait (bounded).
    private mutating func settle(_ id: String, expired: Bool) {
        if settled.updateValue(expired, forKey: id) == nil { settledOrder.append(id) }
        while settled.count > settings.maxPending, settledHead < settledOrder.count {
            settled[settledOrder[settledHead]] = nil
            expiredKept[settledOrder[settledHead]] = nil
            settledHead += 1
        }
    }

    /// Drops the consumed fronts of the order arrays once they dominate, and their stale
    /// entries (an id served again, a prediction joined) once they outnumber the live ones:
    /// without labels, or with ids served again and again, nothing would ever pop them.
    private mutating func compact() {
        if order.count - orderHead > 2 * pending.count + 1024 {
            order = order[orderHead...].filter { pending[$0.id]?.seq == $0.seq }
            orderHead = 0
        }
        if earlyOrder.count - earlyHead > 2 * early.count + 1024 {
            earlyOrder = earlyOrder[earlyHead...].filter { early[$0.id]?.seq == $0.seq }
            earlyHead = 0
        }
        if orderHead > 1024 && orderHead * 2 > order.count { order.removeFirst(orderHead); orderHead = 0 }
        if earlyHead > 1024 && earlyHead * 2 > earlyOrder.count { earlyOrder.removeFirst(earlyHead); earlyHead = 0 }
        if settledHead > 1024 && settledHead * 2 > settledOrder.count { settledOrder.removeFirst(settledHead); settledHead = 0 }
    }
}
