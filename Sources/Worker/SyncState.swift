import Wire

/// A worker's side of parameter averaging. Pure value type.
///
/// - `base`: the global parameters last adopted (version `version`).
/// - A delta is `current − base` with the labelled samples learnt since the last delta;
///   at most one is in flight (`pending`), remembered with the local parameters at the time
///   it was taken (`snapshot`).
/// - Rebase on a new global version g:
///     if it merged our pending delta:  local = g + (local − snapshot)
///     otherwise:                       local = g + (local − base)   (all progress is still ours)
///   so what was learnt after the delta was taken is kept, and nothing is counted twice.
public struct SyncState: Sendable, Equatable {
    public var version: Int = 0
    public var base: [Double] = []
    public var samples = 0
    public private(set) var seq = 0
    public private(set) var pending: Int?
    private var snapshot: [Double] = []
    private var pendingSamples = 0

    public init(version: Int = 0, base: [Double] = []) {
        self.version = version
        self.base = base
    }

    /// The next delta to send, or nil (nothing learnt, or one already in flight).
    public mutating func makeDelta(current: [Double], worker: String) -> ModelDelta? {
        guard pending == nil, samples > 0, current.count == base.count else { return nil }
        seq += 1
        pending = seq
        snapshot = current
        pendingSamples = samples
        let d = ModelDelta(workerId: worker, seq: seq, baseVersion: version, samples: samples,
                           delta: zip(current, base).map { $0 - $1 })
        samples = 0
        return d
    }

    /// The in-flight delta's coordinates from `start` on were sent as `values` (rounded by
    /// compression): the coordinator merges those, so the rebase keeps the rest
    /// (`current − base − values`) as progress still to send (error feedback).
    public mutating func sent(_ values: [Double], from start: Int = 0) {
        guard pending != nil, start >= 0, start + values.count <= snapshot.count else { return }
        for (k, v) in values.enumerated() { snapshot[start + k] = base[start + k] + v }
    }

    /// Gives up on the in-flight delta: its progress stays in `current − base` and its samples
    /// count again in the next delta.
    public mutating func abandonPending() {
        guard pending != nil else { return }
        pending = nil
        snapshot = []
        samples += pendingSamples
        pendingSamples = 0
    }

    /// New local parameters after global version `u`.
    public mutating func rebase(current: [Double], onto u: ModelUpdate, me: String) -> [Double] {
        guard u.version > version, u.parameters.count == current.count else { return current }
        let merged = pending != nil && u.contributions[me] == pending
        let reference = merged ? snapshot : base
        // g + (local − reference), in this order: an untouched coordinate (local == reference)
        // becomes exactly g, so the next delta is exactly 0 there and stays off the wire.
        let local = (0..<current.count).map { u.parameters[$0] + (current[$0] - reference[$0]) }
        if merged {
            pending = nil
            snapshot = []
            pendingSamples = 0
        } else if pending != nil {
            // Our delta is still to be merged into a later version: keep it relative to the new base.
            snapshot = (0..<current.count).map { u.parameters[$0] + (snapshot[$0] - base[$0]) }
        }
        base = u.parameters
        version = u.version
        return local
    }
}
