import Features
import Kafka
import Wire

/// One input partition this worker runs: its lifecycle (offsets, checkpoints, phase), its
/// per-key feature state, and the I/O handles the shell needs for it. A class on purpose: the
/// hot path mutates it in place (a struct copied out of the dictionary and written back made
/// every record copy the tracker's and the state's buffers). Owned by the worker's thread.
final class PartitionRun {
    var life: PartitionLifecycle
    var state: PartitionState
    var lease: PartitionLease { .init(partition: life.partition, epoch: life.epoch) }
    /// Tells delivery reports and off-loop results for this run from those of an earlier run
    /// of the same partition (`DeliveryTag.generation` is its low bits).
    let token: Int
    /// The capture taken at `life.captureAt`, until it is written.
    var capture: [Changelog.Record] = []
    var restoreStarted: Int64 = 0
    var restoreMs: Int64 = 0
    var restoredKeys = 0
    var keyMismatches: Int64 = 0
    /// Exactly-once only: this partition's transactional producer, and the input offset its
    /// feature state was restored at (checked against the commit once that is known).
    var txn: KafkaProducer?
    var restoredFrom: Int64?
    /// `[labels]`: this partition's predictions waiting for their labels.
    var labels: LabelJoin<LabelSnapshot>?
    /// `[labels]`: the input offset this partition waits at until labels up to its event's
    /// time are read (the input is paused and sought back to it).
    var blockedAt: Int64?
    /// `[labels]`: the start offset (nil inside: the commit) of an input partition not yet
    /// handed to the consumer, until its label partition has answered (`holdForLabels`).
    var heldStart: Int64??
    /// Whether every input record written so far has been read (its end was reported since).
    var inputAtEnd = false
    /// Whether the latest record was one the consumer delivered again below `life.position`
    /// (skipped, counted in the report): one warning per run of them.
    var inRedelivery = false

    /// Whether a capture would write anything (feature state or waiting predictions).
    var isDirty: Bool { state.isDirty || labels?.isDirty == true }

    init(life: PartitionLifecycle, state: PartitionState, token: Int) {
        self.life = life
        self.state = state
        self.token = token
    }

    func tag(_ kind: DeliveryTag.Kind, offset: Int64 = 0) -> Int {
        DeliveryTag(kind, partition: life.partition, generation: token, offset: offset).rawValue
    }

    /// This partition in the worker's report; lag from the consumer's cached watermarks.
    func report(watermarks wm: (low: Int64, high: Int64)?) -> PartitionReport {
        let pos = life.position >= 0 ? life.position : max(life.committed, wm?.low ?? 0)
        var r = PartitionReport(partition: life.partition, epoch: life.epoch, position: life.position, committed: life.committed,
                                lag: wm.map { max(0, $0.high - pos) } ?? -1, processed: life.processed, keys: state.keyCount)
        r.stateBytes = state.snapshotBytes
        r.restoreMs = restoreMs
        r.restoredKeys = restoredKeys
        return r
    }
}
