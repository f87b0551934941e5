import Foundation
import Features
import Kafka
import Runtime
import Wire

/// The shell's data plane: it feeds each partition's `PartitionLifecycle` and carries out
/// its directives, runs records through the `RecordRunner` and writes their outputs.
/// Offsets are committed only after a record's output is delivered (at-least-once), or in
/// the partition's transaction (exactly-once, docs/CONFIG.md).
extension WorkerService {
    var inputTopic: String { config?.kafka.inputTopic ?? "" }
    var changelogTopic: String { config?.kafka.effectiveChangelogTopic ?? "tributary.features" }
    /// Outputs handed to librdkafka and not yet reported (the shared producer's; a
    /// transactional producer's records are bounded by its commit interval and librdkafka's queue).
    var inFlight: Int { producer?.inFlight ?? 0 }

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
            execute(run.life.start(), for: run)
        }
    }

    func makeRun(_ life: PartitionLifecycle, _ pipeline: FeaturePipeline) -> PartitionRun {
        runTokens += 1
        return PartitionRun(life: life, state: pipeline.makeState(), token: runTokens)
    }

    /// Stops partitions: no more reads; their outputs and last capture finish across loop
    /// turns (`drainStopping`), then the commit and (ack) the answer to the coordinator.
    func stop(_ ps: [Int32], ack: Bool) {
        let now = Clock.nowMs()
        for p in ps {
            deferred[p] = nil
            if let run = parts.removeValue(forKey: p) {
                draining[p] = run
                execute(run.life.stop(ack: ack, now: now), for: run)
            } else if let run = draining[p] {
                // Already draining unacknowledged: it answers when it is done.
                execute(run.life.stop(ack: ack, now: now), for: run)
            } else if ack {
                // Acknowledged all the same, so the coordinator never waits on us.
                send(.revoked(Revoked(workerId: options.workerId, partitions: [PartitionLease(partition: p, epoch: 0)], committed: [-1])))
            }
        }
    }

    func stopAll(ack: Bool) { stop(Array(parts.keys), ack: ack) }

    func drainStopping(now: Int64) {
        for run in draining.values { execute(run.life.drain(now: now, dirty: run.state.isDirty), for: run) }
    }

    /// Carries out a partition's directives.
    func execute(_ directives: [PartitionLifecycle.Directive], for run: PartitionRun) {
        let p = run.life.partition
        let tp = TopicPartition(inputTopic, p)
        for d in directives {
            switch d {
            case .openTransactions: execute(run.life.fenced(openTransactions(run)), for: run)
            case .readChangelog:
                if restorer == nil { restorer = ChangelogRestorer(consumerConfig: consumerConfig, groupId: config?.kafka.groupId ?? "tributary") }
                run.restoreStarted = Clock.nowMs()
                restorer!.submit(.init(token: run.token, partition: p, topic: changelogTopic, pipeline: runner!.pipeline))
            case .assign(let from):
                if let from, settings.exactlyOnce { checkTransactionalRestore(run, from: from) }
                do {
                    try consumer?.assign([tp], start: from.map(StartOffset.offset) ?? .committed)
                    log.info("started partition \(p)@\(run.life.epoch) at \(from.map { "its feature checkpoint \($0)" } ?? "its committed offset")")
                } catch {
                    log.error("cannot start partition \(p): \(error)")
                    parts[p] = nil
                }
            case .lookUpCommitted:
                if lookup == nil, let consumer { lookup = CommittedLookup(consumer: consumer) }
                lookup?.submit(tp, token: run.token)
            case .unassign: try? consumer?.unassign([tp])
            case .capture(let at): run.capture = run.state.capture(runner!.pipeline, nextOffset: at)
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

    func release(_ run: PartitionRun, ack: Bool) {
        let p = run.life.partition
        guard draining[p] === run || parts[p] === run else { return }
        draining[p] = nil
        if parts[p] === run { parts[p] = nil }
        if run.life.undelivered > 0 {
            log.warning("partition \(p): \(run.life.undelivered) outputs undelivered at stop; they will be replayed by the next owner")
        }
        log.info("stopped partition \(p)")
        if ack { send(.revoked(Revoked(workerId: options.workerId, partitions: [run.lease], committed: [run.life.committed]))) }
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
            execute(run.life.restored(next: o.error == nil ? o.nextOffset : nil), for: run)
        }
    }

    func collectCommitted() {
        for (p, token, offset) in lookup?.takeFinished() ?? [] {
            guard let run = parts[p], run.token == token else { continue }
            run.life.committedKnown(offset)
        }
    }

    // MARK: records

    func process(_ rec: borrowing ConsumedRecord) {
        let p = rec.partition
        // A record fetched before a revoke took effect: leave it to the next owner.
        guard let run = parts[p], let config, let producer = output(for: run) else { return }
        let offset = rec.offset
        let skipped = run.life.read(offset)
        if skipped > 0 {
            report.skippedOffsets += skipped
            log.warning("partition \(p): offsets \(offset - skipped)..<\(offset) were never read (deleted by the broker before this worker reached them, or compacted away)")
        }
        report.processed += 1
        let tag = run.tag(.output, offset: offset)
        let outcome = runner!.run(value: rec.value, key: rec.key, kafkaTimestampMs: rec.timestampMs, state: &run.state,
                                  models: &models!, evaluation: &evaluation!) { session.learnt() }
        if !runner!.keyed { keyMismatch(run, rec.key) }
        switch outcome {
        case .deadLetter(let reason, let error):
            out.deadLetter(rec, run, producer: producer, kafka: config.kafka, reason: reason, error: error, tag: tag)
        case .late(true):
            out.deadLetter(rec, run, producer: producer, kafka: config.kafka, reason: "late", error: runner!.lateReason(run.state), tag: tag)
        case .late(false):
            // Counted, not scored: nothing to deliver, so the offset is done at once.
            run.life.finished(offset)
        case .scored(let served, let drift):
            if drift {
                report.lastDriftWallMs = Clock.wallMs()
                let e = evaluation!.report
                log.warning("drift detected in the running loss after \(e.whole.count) labelled predictions (Page-Hinkley > \(e.driftThreshold)); recent \(e.window.figures.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))")
            }
            if runner!.event.label != nil { report.labelled += 1 }
            if let error = emit(served, run, offset, producer, config.kafka.outputTopic, tag: tag, withFeatures: runner!.pipeline.spec.emit) {
                // A failed transaction aborts and replays this record (`transactionFailed`).
                if run.txn === producer { return }
                // The prediction can never be queued (too large for message.max.bytes, or its
                // topic is unknown): the input goes to the dead letters with the reason instead.
                out.deadLetter(rec, run, producer: producer, kafka: config.kafka, reason: "undeliverable-prediction",
                               error: "the prediction could not be produced to \(config.kafka.outputTopic): \(error)", tag: tag)
                return
            }
            models!.countServed(served)
            if models!.models.count > 1 && !config.lifecycle.shadowTopic.isEmpty {
                // Shadow scoring: every other model's prediction of this record, same shape.
                for i in models!.models.indices where i != served {
                    if let error = emit(i, run, offset, producer, config.lifecycle.shadowTopic, tag: run.tag(.shadow), withFeatures: false) {
                        out.shadowFailed(error)
                    } else {
                        out.shadowPredictions += 1
                    }
                }
            }
            report.predictions += 1
            run.life.produced(offset)
            if rec.timestampMs > 0 { recordLatency.recordMilliseconds(max(0, Clock.wallMs() - rec.timestampMs)) }
        }
    }

    /// Model `i`'s prediction of the record just run (see `RecordOutput.prediction`).
    func emit(_ i: Int, _ run: PartitionRun, _ offset: Int64, _ producer: KafkaProducer, _ topic: String, tag: Int, withFeatures: Bool) -> KafkaError? {
        // Not `let set = models`: a copy of the whole set per record would retain every buffer in it.
        // Nor `config!` whole: only the class names are read (a ClusterConfig copy per record showed in profiles).
        out.prediction(by: models!.models[i], named: models!.layout.models[i].name, of: runner!, classes: config!.model.classes,
                       version: report.modelVersion, run: run, offset: offset, producer: producer, topic: topic, tag: tag, withFeatures: withFeatures)
    }

    /// A record whose Kafka key is not its key field's value: per-key state assumes the
    /// producer partitioned by that key, so this key's state may live in several partitions.
    /// Counted in status; said once per partition.
    func keyMismatch(_ run: PartitionRun, _ key: UnsafeRawBufferPointer) {
        run.keyMismatches += 1
        report.keyMismatches += 1
        guard run.keyMismatches == 1, let r = runner else { return }
        let kafkaKey = key.count == 0 ? "a null key" : "key '\(String(decoding: key.prefix(64), as: UTF8.self))'"
        log.warning("partition \(run.life.partition): a record has \(kafkaKey) but \(r.pipeline.spec.key) '\(r.event.key.prefix(64))': input not keyed by features.key splits per-key state across partitions; produce records keyed by \(r.pipeline.spec.key) (said once per partition; status counts them)")
    }

    /// The run a delivery report belongs to, if it is still here.
    func run(for tag: DeliveryTag) -> PartitionRun? {
        if let r = parts[tag.partition], r.token & 0x7 == tag.generation { return r }
        if let r = draining[tag.partition], r.token & 0x7 == tag.generation { return r }
        return nil
    }

    func serveDeliveries(timeoutMs: Int32) {
        guard let producer else { return }
        // Transactional producers report no deliveries (their commit does); only errors.
        for run in parts.values { run.txn?.poll(timeoutMs: 0, onError: { kafkaTrouble("producer", $0) }) { _ in } }
        producer.poll(timeoutMs: timeoutMs, onError: { kafkaTrouble("producer", $0) }) { dr in
            let tag = DeliveryTag(rawValue: dr.tag)
            switch tag.kind {
            case .shadow:
                // Shadow predictions are not what offsets wait for.
                if let e = dr.error { out.shadowFailed(e) }
            case .changelog:
                if let e = dr.error { kafkaTrouble("changelog \(changelogTopic)[\(tag.partition)]", e) }
                if let run = run(for: tag) { execute(run.life.changelogDelivered(ok: dr.error == nil), for: run) }
            case .output:
                guard let run = run(for: tag) else { return }
                if let e = dr.error {
                    report.deliveryErrors += 1
                    log.error("output for partition \(tag.partition) offset \(tag.offset) not delivered: \(e); replaying the partition from its last commit")
                    execute(run.life.deliveryFailed(), for: run)
                    return
                }
                run.life.delivered(tag.offset)
            }
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
            if records.count > 1024 && run.life.changelogInFlight % 1024 == 0 { heartbeatIfDue(now: Clock.nowMs()) }
        }
        execute(run.life.captureWritten(complete: complete), for: run)
    }
}

