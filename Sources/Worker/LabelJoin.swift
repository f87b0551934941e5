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
/// - A label for a prediction that expired is late: counted, not learnt (its snapshot is gone).
/// - Beyond `maxPending` waiting predictions, the oldest expire at once (counted as such).
public struct LabelJoin<Snapshot: Sendable>: Sendable {
    public struct Settings: Sendable, Equatable {
        public var horizon: Double
        public var maxPending: Int
        public var learnNegative: Bool
        public init(horizon: Double, maxPending: Int, learnNegative: Bool = false) {
            self.horizon = horizon
            self.maxPending = maxPending
            self.learnNegative = learnNegative
        }
    }

    /// What to learn: the snapshot served, its label, and the label's delay (event time).
    public struct Learn: Sendable {
        public var snapshot: Snapshot
        public var label: Double
        public var delay: Double
    }

    public struct Counters: Sendable, Equatable {
        public var joined: Int64 = 0
        public var expired: Int64 = 0
        /// Expired before their horizon because `maxPending` was reached.
        public var evicted: Int64 = 0
        public var late: Int64 = 0
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
    /// Insertion order for expiry and eviction (lazy: an entry whose seq no longer matches
    /// was joined or replaced).
    private var order: [(id: String, time: Double, seq: Int)] = []
    private var orderHead = 0
    private var earlyOrder: [(id: String, time: Double, seq: Int)] = []
    private var earlyHead = 0
    private var seq = 0

    public init(settings: Settings) { self.settings = settings }

    public var pendingCount: Int { pending.count }
    public var earlyCount: Int { early.count }

    /// A prediction was served for `id` at event time `time`. Its label may be here already.
    public mutating func served(id: String, time: Double, snapshot: Snapshot) -> [Learn] {
        eventTime = max(eventTime, time)
        if let e = early.removeValue(forKey: id) {
            counters.joined += 1
            settle(id, expired: false)
            return [Learn(snapshot: snapshot, label: e.label, delay: max(0, e.time - time))] + expire()
        }
        seq += 1
        pending[id] = Pending(snapshot: snapshot, time: time, seq: seq)
        order.append((id, time, seq))
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
            counters.joined += 1
            settle(id, expired: false)
            out.append(Learn(snapshot: p.snapshot, label: value, delay: max(0, time - p.time)))
        } else if let expiredBefore = settled[id] {
            if expiredBefore {
                counters.late += 1
            } else {
                counters.duplicate += 1
            }
        } else if early[id] == nil {
            seq += 1
            early[id] = (value, time, seq)
            earlyOrder.append((id, time, seq))
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
        while earlyHead < earlyOrder.count, earlyOrder[earlyHead].time < earlyLimit {
            let o = earlyOrder[earlyHead]
            earlyHead += 1
            if let e = early[o.id], e.seq == o.seq {
                early[o.id] = nil
                counters.unknown += 1
            }
        }
        compact()
        return out
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
        counters.expired += 1
        settle(id, expired: true)
        return settings.learnNegative ? [Learn(snapshot: p.snapshot, label: 0, delay: settings.horizon)] : []
    }

    /// Remembers how an id ended, for as many ids as predictions may wait (bounded).
    private mutating func settle(_ id: String, expired: Bool) {
        if settled.updateValue(expired, forKey: id) == nil { settledOrder.append(id) }
        while settled.count > settings.maxPending, settledHead < settledOrder.count {
            settled[settledOrder[settledHead]] = nil
            settledHead += 1
        }
    }

    /// Drops the consumed fronts of the order arrays once they dominate.
    private mutating func compact() {
        if orderHead > 1024 && orderHead * 2 > order.count { order.removeFirst(orderHead); orderHead = 0 }
        if earlyHead > 1024 && earlyHead * 2 > earlyOrder.count { earlyOrder.removeFirst(earlyHead); earlyHead = 0 }
        if settledHead > 1024 && settledHead * 2 > settledOrder.count { settledOrder.removeFirst(settledHead); settledHead = 0 }
    }
}
