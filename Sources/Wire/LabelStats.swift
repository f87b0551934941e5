/// A worker's delayed-label join (`[labels]`), in its report and summed in status.
public struct LabelStats: Sendable, Codable, Equatable {
    /// Labels learnt from, joined to the prediction served for their id.
    public var joined: Int64 = 0
    /// Predictions whose label did not come within the horizon (learnt as 0 with learn_negative).
    public var expired: Int64 = 0
    /// Of those, expired early because max_pending was reached.
    public var evicted: Int64 = 0
    /// Labels for predictions already expired.
    public var late: Int64 = 0
    /// Of those, learnt from their kept snapshot (`late_labels = "learn"`).
    public var lateLearnt: Int64 = 0
    /// Second labels for an id already joined.
    public var duplicate: Int64 = 0
    /// Labels with no prediction for their id within the horizon.
    public var unknown: Int64 = 0
    /// Unlabelled events without the id field: scored, never joined.
    public var noId: Int64 = 0
    /// Predictions waiting when their partition moved to another worker: they go with its
    /// changelog, and the next owner restores them.
    public var handedOn: Int64 = 0
    /// Label records dead-lettered (no id, no label, a bad value).
    public var deadLetters: Int64 = 0
    /// Predictions waiting now, and early labels waiting for their prediction.
    public var pending: Int64 = 0
    public var earlyLabels: Int64 = 0
    /// Heap held by the waiting predictions (estimated from their sizes when served).
    public var pendingBytes: Int64 = 0
    /// Label delay (label time minus event time, seconds) over the latest joins.
    public var delayP50: Double = 0
    public var delayP99: Double = 0
    public init() {}

    public static func + (a: LabelStats, b: LabelStats) -> LabelStats {
        var s = a
        s.joined += b.joined; s.expired += b.expired; s.evicted += b.evicted; s.late += b.late; s.lateLearnt += b.lateLearnt
        s.pendingBytes += b.pendingBytes
        s.duplicate += b.duplicate; s.unknown += b.unknown; s.noId += b.noId; s.handedOn += b.handedOn
        s.deadLetters += b.deadLetters; s.pending += b.pending; s.earlyLabels += b.earlyLabels
        s.delayP50 = max(a.delayP50, b.delayP50)
        s.delayP99 = max(a.delayP99, b.delayP99)
        return s
    }
}
