import Kafka
import Wire

/// Exactly-once (`kafka.guarantee = "exactly_once"`): each input partition has its own
/// transactional producer, `transactional.id` = `<group_id>.<input_topic>.<partition>`.
/// Its predictions, dead letters and feature-changelog capture (with the predictions waiting
/// for labels and the label offset they cover), and the partition's input offset, commit together in one transaction per commit interval; read_committed readers
/// see each output once. One id per partition (not per worker) is what fences a zombie: the
/// next owner's `initTransactions` bumps the id's epoch, aborts what the old owner left
/// open, and makes the old owner's next transactional call fail as fenced.
///
/// Not transactional: the model. A record whose transaction aborts is learnt again when it
/// is replayed (online learning is approximate anyway; docs/CONFIG.md says so).
extension PartitionDriver {
    /// Starts making the partition's transactional producer, which fences every earlier
    /// owner (`TransactionOpener`, off the loop). The lifecycle waits in `fencing` for it:
    /// only then is no older transaction still able to commit behind our back, so the
    /// partition's committed offset and changelog are read after it.
    func openTransactions(_ run: PartitionRun) {
        guard let config else { return }
        var pc = producerConfig
        pc["transactional.id"] = config.kafka.transactionalId(partition: run.life.partition)
        // Records leave the worker only when their transaction commits (the commit flushes):
        // a read_committed reader could not see them earlier anyway, and a transaction that
        // dies with its worker, or is fenced, then has nothing on the broker to be filtered
        // out. That matters on brokers whose aborted-record filtering is missing (Tansu 0.6
        // shows aborted records to read_committed readers; docs/CONFIG.md).
        pc["linger.ms"] = String(min(50_000, max(1000, 10 * config.worker.commitIntervalMs)))
        if opener == nil { opener = TransactionOpener() }
        opener!.submit(partition: run.life.partition, token: run.token, config: pc)
    }

    func collectOpened() {
        for o in opener?.takeFinished() ?? [] {
            // Revoked meanwhile (or started again: a newer producer is on its way): dropped.
            guard let run = parts[o.partition], run.token == o.token else { continue }
            switch o.result {
            case .success(let txn):
                run.txn = txn
                execute(run.life.fenced(true), for: run)
            case .failure(let error):
                // Handed back, so the coordinator assigns it again (here or elsewhere).
                log.error("partition \(o.partition): cannot start its transactional producer (\(o.transactionalId)): \(error); handing the partition back")
                execute(run.life.fenced(false), for: run)
            }
        }
    }

    /// In exactly-once mode the capture and the input offset commit together, so a capture
    /// ahead of the committed offset belongs to a transaction that did not commit: the broker
    /// showed it to a read_committed reader (Tansu 0.6 does). Its state is consistent with
    /// resuming after it, but its predictions were aborted; said, not silent. Checked when
    /// the committed offset is known (`CommittedLookup`, off the loop).
    func checkTransactionalRestore(_ run: PartitionRun, committed: Int64) {
        guard let next = run.restoredFrom else { return }
        run.restoredFrom = nil
        let p = run.life.partition
        if next > max(committed, 0) {
            log.error("partition \(p): the feature changelog is ahead of the committed input offset (\(max(committed, 0)) < \(next)): the broker showed this reader a transaction that did not commit (read_committed not honoured); the predictions for offsets \(max(committed, 0))..<\(next) of partition \(p) were aborted and are not replayed")
        }
    }

    /// Commits the partition's transaction with input offset `at`: its changelog capture
    /// (stateful specs), the offset, and every output written since the last commit. A
    /// failure while running replays; while stopping, the next owner replays.
    func commitTransaction(_ run: PartitionRun, at position: Int64) {
        guard let consumer, let config, let runner, let txn = output(for: run) else { return }
        let p = run.life.partition
        let replay = parts[p] === run
        do throws(KafkaError) {
            if settings.stateful && run.life.hasUncaptured(dirty: run.isDirty) {
                // In the transaction, the capture needs no wait for deliveries: it becomes
                // visible together with the outputs it covers, or not at all. Predictions
                // waiting for labels, and the label offset they cover, are in it too.
                run.capture = run.state.capture(runner.pipeline, nextOffset: position, side: labelCapture(run))
                writeCapture(run)
                guard parts[p] === run || draining[p] === run else { return }  // failed and replayed
            }
            try txn.sendOffsetsToTransaction([TopicPartition(inputTopic, p): position], consumer: consumer)
            try txn.commitTransaction(timeoutMs: 10_000)
            run.life.transactionCommitted(at: position)
            report.transactionsCommitted += 1
        } catch {
            transactionFailed(run, error, replay: replay)
        }
    }

    /// A transactional call failed. Fenced, or the producer otherwise unusable: give the
    /// partition up without committing anything and hand it back to the coordinator (if we
    /// still own it there, it is assigned afresh, with a new producer; if a newer owner has
    /// it, the coordinator ignores us). Otherwise: abort, and replay the partition from its
    /// last committed transaction (feature state from the changelog).
    func transactionFailed(_ run: PartitionRun, _ error: KafkaError, replay: Bool = true) {
        let p = run.life.partition
        guard parts[p] === run || draining[p] === run, let txn = run.txn else { return }
        if let fatal = error.isFenced || error.isFatal ? error : txn.fatalError {
            giveUp(run, because: "\(fatal.isFenced ? "fenced, a newer owner took it" : "its transactional producer failed") (\(fatal))")
            return
        }
        let again = replay && parts[p] === run
        log.warning("partition \(p): transaction failed (\(error)); aborting it\(again ? " and replaying from offset \(run.life.committed)" : "")")
        do { try txn.abortTransaction(timeoutMs: 5000) } catch {
            giveUp(run, because: "the abort failed too (\(error))")
            return
        }
        run.life.transactionAborted()
        report.transactionsAborted += 1
        if again { rewind(run) }
    }

    /// Stops a partition whose transactional producer cannot go on, without a commit.
    func giveUp(_ run: PartitionRun, because why: String) {
        let p = run.life.partition
        log.warning("partition \(p): \(why); giving it up without committing")
        report.fencedPartitions += 1
        if parts[p] === run {
            parts[p] = nil
            try? consumer?.unassign([TopicPartition(inputTopic, p)])
        }
        draining[p] = nil
        host.send(.revoked(Revoked(workerId: workerId, partitions: [run.lease], committed: [run.life.committed])))
    }
}
