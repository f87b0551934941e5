import Features
import Kafka

/// The worker's side of the feature-state changelog: restore a partition's state before
/// it runs, write captures in step with offset commits (see `PartitionRun.durable`).
extension WorkerService {
    var changelogTopic: String { config?.kafka.effectiveChangelogTopic ?? "tributary.features" }

    /// Starts a partition run: a stateless spec assigns it at once (at its committed offset);
    /// a stateful one first restores its feature state from the changelog, off the loop
    /// thread (`ChangelogRestorer`), and `restoreFinished` assigns it. Never waits on Kafka.
    func begin(_ run: PartitionRun) {
        runTokens += 1
        run.token = runTokens
        guard stateful, let pipeline else {
            assign(run, at: nil)
            return
        }
        if restorer == nil {
            restorer = ChangelogRestorer(consumerConfig: consumerConfig, groupId: config?.kafka.groupId ?? "tributary")
        }
        run.restoring = true
        run.restoreStarted = Clock.nowMs()
        restorer!.submit(.init(token: run.token, partition: run.lease.partition, topic: changelogTopic, pipeline: pipeline))
    }

    /// Restores finished since the last turn: each run still waiting for its own restore
    /// takes the state and starts reading where that state ends (or, with no checkpoint, at
    /// its committed offset with empty state).
    func collectRestores() {
        guard let restorer else { return }
        for o in restorer.takeFinished() {
            // Revoked meanwhile, or started again (a newer restore is on its way): not ours.
            guard let run = parts[o.partition], run.restoring, run.token == o.token else { continue }
            let p = o.partition
            run.restoring = false
            run.restoreMs = Clock.nowMs() - run.restoreStarted
            if let error = o.error {
                // Loud, not silent: the features of this partition start from empty state.
                log.error("partition \(p): cannot restore feature state from \(changelogTopic): \(error); starting with empty state")
                assign(run, at: nil)
                continue
            }
            var next: Int64? = nil
            if let state = o.state {
                run.state = state
                run.restoredKeys = state.keyCount
                if let n = o.nextOffset {
                    run.position = n
                    run.durable = n
                    next = n
                    log.info("partition \(p): restored \(state.keyCount) keys from \(o.records) changelog records in \(run.restoreMs) ms; resuming at offset \(n)")
                }
            }
            assign(run, at: next)
        }
    }

    /// Whether records were read since the last capture (or its state changed otherwise).
    func hasUncaptured(_ run: PartitionRun) -> Bool {
        run.position >= 0 && (run.position > run.durable || run.state.isDirty)
    }

    func needsCheckpoint(_ run: PartitionRun) -> Bool {
        run.capture != nil || run.changelogInFlight > 0 || hasUncaptured(run)
    }

    /// One step of the checkpoint cycle of a partition: take a capture if none is under way,
    /// and send it once every output below its offset is delivered.
    func checkpoint(_ p: Int32, _ run: PartitionRun) {
        guard stateful, let pipeline, let producer else { return }
        if run.capture == nil && run.changelogInFlight == 0 && hasUncaptured(run) {
            run.capture = (run.position, run.state.capture(pipeline, nextOffset: run.position))
        }
        guard let c = run.capture, run.changelogInFlight == 0 else { return }
        guard run.tracker.pending == 0 || (run.tracker.committable ?? -1) >= c.offset else {
            log.debug("partition \(p): capture at \(c.offset) waits for outputs (pending \(run.tracker.pending), committable \(run.tracker.committable ?? -1))")
            return
        }
        log.debug("partition \(p): writing capture at \(c.offset): \(c.records.count) records")
        let complete = writeCapture(p, run, records: c.records, producer: producer)
        run.inFlightOffset = c.offset
        // An incomplete capture never makes its offset durable (commits wait), and the next
        // one rewrites everything (when the last queued record is reported, or now).
        run.changelogFailed = !complete
        run.capture = nil
        if !complete && run.changelogInFlight == 0 { run.state.requestFullSnapshot() }
    }

    /// Queues a capture's records to the partition's changelog partition (same number).
    /// Returns false when some could not be queued: the changelog topic lacks the partition
    /// (it has fewer partitions than the input), or a record is too large. Retrying cannot
    /// fix those, and waiting would stall the loop; the error shows in status.
    func writeCapture(_ p: Int32, _ run: PartitionRun, records: [Changelog.Record], producer: KafkaProducer) -> Bool {
        let topic = changelogTopic
        let tag = -Int(p) - 1
        for r in records {
            // A failed transaction (replayed meanwhile) takes no more of this capture.
            guard parts[p] === run else { return false }
            let error = r.key.withUnsafeBytes { k in
                // A null value is a tombstone, so compaction removes the key.
                (r.value ?? []).withUnsafeBytes { vb in
                    produceRetrying(producer, run: run, topic: topic, partition: p, key: k,
                                    value: r.value == nil ? UnsafeRawBufferPointer(start: nil, count: 0) : vb,
                                    headers: [], tag: tag, permanent: .giveUp)
                }
            }
            if error != nil { return false }
            run.changelogInFlight += 1
            report.changelogBytes += Int64(r.key.count + (r.value?.count ?? 0))
        }
        return true
    }

    func changelogDelivered(_ p: Int32, error: KafkaError?) {
        guard let run = parts[p], run.changelogInFlight > 0 else { return }
        run.changelogInFlight -= 1
        if let error {
            run.changelogFailed = true
            kafkaTrouble("changelog \(changelogTopic)[\(p)]", error)
        }
        guard run.changelogInFlight == 0 else { return }
        log.debug("partition \(p): capture at \(run.inFlightOffset) delivered\(run.changelogFailed ? " with errors" : "")")
        if run.changelogFailed {
            // Part of the capture is missing: the next one rewrites everything.
            run.state.requestFullSnapshot()
        } else {
            run.durable = max(run.durable, run.inFlightOffset)
        }
    }
}

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
                            timeoutMs: Int64 = 120_000, progress: () -> Void = {}) throws(any Error) -> ChangelogRestore {
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
        }
        if let failure { throw ServiceErrorText("changelog \(topic)[\(p)] at offset \(next - 1): \(failure)") }
        if !atEnd { throw ServiceErrorText("changelog \(topic)[\(p)]: not read to its end in \(timeoutMs / 1000) s (\(r.records) records read)") }
        return r
    }
}

struct ServiceErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
