/// All feature state of one input partition. It belongs to the partition, not the worker,
/// so it moves with the partition: it is written to the changelog topic (`capture`) and
/// rebuilt from it (`ChangelogRestore`) by the next owner.
///
/// Everything here is a function of the partition's records in offset order (event time,
/// never wall time): that is what makes a restored partition compute the same features as
/// an uninterrupted one.
public struct PartitionState: Sendable {
    public internal(set) var keys: [String: KeyState] = [:]
    /// Per target-encoding spec: value -> label stats.
    public internal(set) var targets: [[String: TargetStat]]
    /// The newest event time seen on this partition (stream time); -inf before any.
    public internal(set) var streamTime = -Double.infinity
    public internal(set) var labelCount = 0.0
    public internal(set) var labelSum = 0.0
    /// A side stage's state, as restored from the changelog (`SideState`); the stage keeps
    /// its live state itself and hands it to `capture`.
    public internal(set) var side = SideState()

    // Changelog bookkeeping (not part of the features' value).
    /// Keys changed since the last capture, each once (their `KeyState.dirty` is set), and
    /// keys dropped since (no state left to flag).
    var dirtyKeys: [String] = []
    var dirtyTargets: [Set<String>]
    /// Whether the next capture must be a full snapshot, and bytes written since the last one.
    var needsFull = true
    var bytesSinceFull = 0
    var lastFullBytes = 0

    public init(targetEncodings: Int) {
        targets = .init(repeating: [:], count: targetEncodings)
        dirtyTargets = .init(repeating: [], count: targetEncodings)
    }

    public var keyCount: Int { keys.count + targets.reduce(0) { $0 + $1.count } }
}
