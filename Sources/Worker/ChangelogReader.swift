import Features
import Kafka
import Runtime

/// Reads one changelog partition from its start to its current end into a `ChangelogRestore`.
/// Shared by the worker and the restore benchmark, so the benchmark measures the real path.
public enum ChangelogReader {
    /// Settings a restore consumer needs on top of the caller's: the end of the partition is
    /// where the broker says it is while fetching (an end-of-partition event), not a
    /// watermark asked beforehand. With transactions the last offsets are commit markers no
    /// consumer ever receives, and Tansu 0.6 answers ListOffsets with the last batch's first
    /// offset: waiting for "high watermark − 1" hangs on the one and stops short on the other.
    public static func consumerConfig(_ base: KafkaClientConfig) -> KafkaClientConfig {
        var c = base
        c["enable.partition.eof"] = "true"
        return c
    }

    public static func read(_ rc: KafkaConsumer, topic: String, partition p: Int32, pipeline: FeaturePipeline,
                            timeoutMs: Int64 = 120_000, progress: () -> Void = {},
                            reading: (_ done: Int64, _ total: Int64) -> Void = { _, _ in }) throws(any Error) -> ChangelogRestore {
        let tp = TopicPartition(topic, p)
        var r = ChangelogRestore(pipeline: pipeline)
        // Asked to fail fast on a missing topic or partition (it would never reach an end), and
        // to skip an empty one at once: waiting for its end-of-partition event costs a fetch
        // cycle per partition (0.15–1 s on the embedded broker), and a worker starting several
        // partitions is deaf to the coordinator meanwhile. Where data exists the watermarks
        // differ on every broker seen, so the end is then found by reading (see
        // `consumerConfig`). The one blind spot: Tansu reports a partition whose only batch
        // starts at offset 0 as empty. Exactly-once changelogs always end with a commit
        // marker batch, so they are never in it.
        let wm = try rc.queryWatermarks(tp, timeoutMs: 5000)
        guard wm.high > wm.low else { return r }
        try rc.assign([tp], start: .beginning)
        defer { try? rc.unassign([tp]) }
        var next: Int64 = -1
        var atEnd = false
        var failure: ChangelogError?
        let deadline = Clock.nowMs() + timeoutMs
        while !atEnd && failure == nil && Clock.nowMs() < deadline {
            rc.poll(timeoutMs: 100, onEndOfPartition: { part, offset in
                if part == p && offset >= next { atEnd = true }
            }) { rec in
                guard rec.partition == p, rec.offset >= next, failure == nil else { return }
                next = rec.offset + 1
                do {
                    try r.apply(key: Array(rec.key), value: rec.value.count == 0 ? nil : Array(rec.value))
                } catch {
                    failure = error as? ChangelogError ?? ChangelogError("\(error)")
                }
            }
            progress()
            if next > wm.low { reading(next - wm.low, wm.high - wm.low) }
        }
        if let failure { throw ServiceError("changelog \(topic)[\(p)] at offset \(next - 1): \(failure)") }
        if !atEnd { throw ServiceError("changelog \(topic)[\(p)]: not read to its end in \(timeoutMs / 1000) s (\(r.records) records read)") }
        return r
    }
}
