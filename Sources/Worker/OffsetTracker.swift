/// Which input offsets of one partition may be committed: an offset is committable only
/// when its output (prediction or dead letter) and every earlier one are delivered.
/// Outputs are produced in offset order, but delivery reports can come back in any
/// order (different output partitions), so this keeps the produced-but-undelivered
/// offsets in order and advances the commit point over the delivered prefix.
/// Pure value type: no I/O, tested directly.
public struct OffsetTracker: Sendable, Equatable {
    /// Offsets produced, in order; `done[i]` once delivered.
    private var offsets: [Int64] = []
    private var done: [Bool] = []
    private var head = 0
    /// Next offset to commit ("next to read" semantics): everything below is delivered.
    public private(set) var committable: Int64?
    /// The last offset handed to `produced`.
    public private(set) var lastProduced: Int64 = -1

    public init() {}

    /// A tracker for a partition resumed at `offset` whose outputs below it are known to be
    /// delivered (a feature checkpoint is written only after they are): that offset is
    /// committable before any new record arrives, so a partition restored at the end of
    /// its input still commits there.
    public init(resumingAt offset: Int64) {
        committable = offset
    }

    public var pending: Int { offsets.count - head }

    public mutating func produced(_ offset: Int64) {
        offsets.append(offset)
        done.append(false)
        lastProduced = offset
    }

    /// Marks `offset` delivered. Returns false for an offset this tracker does not hold
    /// (a report for a partition that was revoked and re-assigned meanwhile).
    @discardableResult
    public mutating func delivered(_ offset: Int64) -> Bool {
        // offsets[head...] is sorted: binary search (reports arrive out of order).
        var lo = head, hi = offsets.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if offsets[mid] < offset { lo = mid + 1 } else { hi = mid }
        }
        let i = lo
        guard i < offsets.count, offsets[i] == offset else { return false }
        done[i] = true
        while head < offsets.count && done[head] {
            committable = offsets[head] + 1
            head += 1
        }
        if head > 4096 && head * 2 > offsets.count {
            offsets.removeFirst(head)
            done.removeFirst(head)
            head = 0
        }
        return true
    }
}
