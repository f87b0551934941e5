import Foundation
import Features
import Kafka
import Runtime
import Wire

/// Each partition's lifecycle: starts, stops and drains, and the directives of its
/// `PartitionLifecycle` carried out against Kafka (assign, restore off the loop, captures,
/// commits, rewinds, release).
extension PartitionDriver {
    // MARK: lifecycle

    func start(_ leases: [PartitionLease]) {
        guard consumer != nil, let runner else { return }
        for l in leases {
            if let run = parts[l.partition] {
                if l.epoch > run.life.epoch { run.life.epoch = l.epoch }
                continue
            }
            // Still draining here (we fenced ourselves, and the coordinator gave it straight
            // back): started when that run is released, so two runs of one partition never
            // write its changelog or commits at once.
            if draining[l.partition] != nil {
                deferred[l.partition] = l
                continue
            }
            let run = makeRun(PartitionLifecycle(partition: l.partition, epoch: l.epoch, settings: settings), runner.pipeline)
            parts[l.partition] = run
            repartitioner?.start(l.partition)
            labelRepartitioner?.start(l.partition)
            // The labels start once the partition's state is restored (`collectRestores`):
            // from the offset its waiting predictions cover.
            execute(run.life.start(), for: run)
        }
    }

    func makeRun(_ life: PartitionLifecycle, _ pipeline: FeaturePipeline) -> PartitionRun {
        runTokens += 1
        let run = PartitionRun(life: life, state: pipeline.makeState(), token: runTokens)
        run.labels = makeLabelJoin()
        return run
    }

    /// Stops partitions: no more reads; their outputs and last capture finish across loop
    /// turns (`drainStopping`), then the commit and (ack) the answer to the coordinator.
    func stop(_ ps: [Int32], ack: Bool) {
        let now = Clock.nowMs()
        for p in ps {
            deferred[p] = nil
            repartitioner?.stop(p)
            labelRepartitioner?.stop(p)
            labelReader?.stop(p)
            // Unpaused before it is given up (a paused partition would stay paused if assigned again).
            if waitingForLabels.remove(p) != nil { consumer?.resume([TopicPartition(inputTopic, p)]) }
            if let run = parts.removeValue(forKey: p) {
                draining[p] = run
                execute(run.life.stop(ack: ack, now: now), for: run)
            } else if let run = draining[p] {
                // Already draining unacknowledged: it answers when it is done.
                execute(run.life.stop(ack: ack, now: now), for: run)
            } else if ack {
                // Acknowledged all the same, so the coordinator never waits on us.
                host.send(.revoked(Revoked(workerId: workerId, partitions: [PartitionLease(partition: p, epoch: 0)], committed: [-1])))
            }
        }
    }

    func stopAll(ack: Bool) { stop(Array(parts.keys), ack: ack) }

    func drainStopping(now: Int64) {
        for run in draining.values { execute(run.life.drain(now: now, dirty: run.isDirty), for: run) }
    }

    /// Carries out a partition's directives.
    func execute(_ directives: [PartitionLifecycle.Directive], for run: PartitionRun) {
        let p = run.life.partition
        let tp = TopicPartition(inputTopic, p)
        for d in directives {
            switch d {
            case .openTransactions: openTransactions(run)
            case .readChangelog:
                if restorer == nil { restorer = ChangelogRestorer(consumerConfig: consumerConfig, groupId: config?.kafka.groupId ?? "tributary", log: log) }
                run.restoreStarted = Clock.nowMs()
                restorer!.submit(.init(token: run.token, partition: p, topic: changelogTopic, pipeline: runner!.pipeline))
            case .assign(let from):
                if settings.exactlyOnce { run.restoredFrom = from }
                if !holdForLabels(run, from: from) { assignInput(run, from: from) }
            case .lookUpCommitted:
                if lookup == nil, let consumer { lookup = CommittedLookup(consumer: consumer) }
                lookup?.submit(tp, token: run.token)
            case .unassign: if run.heldStart == nil { try? consumer?.unassign([tp]) }
            case .capture(let at): run.capture = run.state.capture(runner!.pipeline, nextOffset: at, side: labelCapture(run))
            case .writeCapture: writeCapture(run)
            case .requestFullSnapshot: run.state.requestFullSnapshot()
            case .commit(let offset, let final):
                do {
                    try consumer?.commit([tp: offset], async: !final)
                    run.life.didCommit(offset)
                } catch {
                    kafkaTrouble("commit (retried at the next interval)", error)
                }
            case .commitTransaction(let at): commitTransaction(run, at: at)
            case .rewind: rewind(run)
            case .release(let ack): release(run, ack: ack)
            }
        }
    }

    /// Hands the partition to the consumer: from `from`, or from the group's commit.
    func assignInput(_ run: PartitionRun, from: Int64?) {
        let p = run.life.partition
        do {
            try consumer?.assign([TopicPartition(inputTopic, p)], start: from.map(StartOffset.offset) ?? .committed)
            log.info("started partition \(p)@\(run.life.epoch) at \(from.map { "its feature checkpoint \($0)" } ?? "its committed offset")")
        } catch {
            log.error("cannot start partition \(p): \(error)")
            parts[p] = nil
        }
    }

    func release(_ run: PartitionRun, ack: Bool) {
        let p = run.life.partition
        guard draining[p] === run || parts[p] === run else { return }
        draining[p] = nil
        if parts[p] === run { parts[p] = nil }
        retireLabels(run)
        if run.life.undelivered > 0 {
            log.warning("partition \(p): \(run.life.undelivered) outputs undelivered at stop; they will be replayed by the next owner")
        }
        log.info("stopped partition \(p)")
        if ack { host.send(.revoked(Revoked(workerId: workerId, partitions: [run.lease], committed: [run.life.committed]))) }
        if let l = deferred.removeValue(forKey: p) { start([l]) }
    }

    /// A delivery failed after librdkafka's own retries: restart the partition from its
    /// committed offset (feature state from the changelog) so the record is processed again
    /// (at-least-once, never lost). Reports for the old run are told apart by its token.
    func rewind(_ run: PartitionRun) {
        let p = run.life.partition
        guard parts[p] === run, let pipeline = runner?.pipeline else { return }
        try? consumer?.unassign([TopicPartition(inputTopic, p)])
        let fresh = makeRun(PartitionLifecycle(partition: p, epoch: run.life.epoch, committed: run.life.committed, settings: settings), pipeline)
        fresh.txn = run.txn
        // The waiting predictions stay: the replay serves the records after the commit again,
        // and a label finds whichever prediction came last for its id.
        fresh.labels = run.labels
        parts[p] = fresh
        execute(settings.exactlyOnce ? fresh.life.fenced(true) : fresh.life.start(), for: fresh)
    }

    func collectRestores() {
        for o in restorer?.takeFinished() ?? [] {
            // Revoked meanwhile, or started again (a newer restore is on its way): not ours.
            guard let run = parts[o.partition], run.token == o.token else { continue }
            let p = o.partition
            run.restoreMs = Clock.nowMs() - run.restoreStarted
            if let error = o.error {
                // Loud, not silent: the features of this partition start from empty state.
                log.error("partition \(p): cannot restore feature state from \(changelogTopic): \(error); starting with empty state")
            } else if let state = o.state {
                run.state = state
                run.restoredKeys = state.keyCount
                if let n = o.nextOffset {
                    log.info("partition \(p): restored \(state.keyCount) keys from \(o.records) changelog records in \(run.restoreMs) ms; resuming at offset \(n)")
                }
            }
            restoreLabels(run)
            execute(run.life.restored(next: o.error == nil ? o.nextOffset : nil), for: run)
        }
    }

    func collectCommitted() {
        for (p, token, offset) in lookup?.takeFinished() ?? [] {
            guard let run = parts[p], run.token == token else { continue }
            run.life.committedKnown(offset)
            if settings.exactlyOnce { checkTransactionalRestore(run, committed: offset) }
        }
    }

    /// Queues the run's capture to its changelog partition (the input partition's number).
    /// An incomplete capture (the changelog lacks the partition, a record too large) never
    /// makes its offset durable; retrying cannot fix those, and waiting would stall the loop.
    func writeCapture(_ run: PartitionRun) {
        guard let producer = output(for: run) else { return }
        let p = run.life.partition
        let records = run.capture
        run.capture = []
        run.life.captureWriteBegan()
        var complete = true
        for r in records {
            // A failed transaction (replayed meanwhile) takes no more of this capture.
            guard parts[p] === run || draining[p] === run else { complete = false; break }
            let error = r.key.withUnsafeBytes { k in
                // A null value is a tombstone, so compaction removes the key.
                (r.value ?? []).withUnsafeBytes { vb in
                    out.produce(producer, run: run, topic: changelogTopic, partition: p, key: k,
                                    value: r.value == nil ? UnsafeRawBufferPointer(start: nil, count: 0) : vb,
                                    headers: [], tag: run.tag(.changelog), permanent: .giveUp)
                }
            }
            if error != nil { complete = false; break }
            run.life.captureRecordQueued()
            report.changelogBytes += Int64(r.key.count + (r.value?.count ?? 0))
            if records.count > 1024 && run.life.changelogInFlight % 1024 == 0 { host.heartbeatIfDue(now: Clock.nowMs()) }
        }
        execute(run.life.captureWritten(complete: complete), for: run)
    }
}

