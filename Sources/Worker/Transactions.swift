import Features
import Kafka
import Wire

/// Exactly-once (`kafka.guarantee = "exactly_once"`): each input partition has its own
/// transactional producer, `transactional.id` = `<group_id>.<input_topic>.<partition>`.
/// Its predictions, dead letters and feature-changelog capture, and the partition's input
/// offset, commit together in one transaction per commit interval; read_committed readers
/// see each output once. One id per partition (not per worker) is what fences a zombie: the
/// next owner's `initTransactions` bumps the id's epoch, aborts what the old owner left
/// open, and makes the old owner's next transactional call fail as fenced.
///
/// Not transactional: the model. A record whose transaction aborts is learnt again when it
/// is replayed (online learning is approximate anyway; docs/CONFIG.md says so).
extension WorkerService {
    var exactlyOnce: Bool { config?.kafka.guarantee == .exactlyOnce }

    /// Makes the partition's transactional producer and fences every earlier owner. Must run
    /// before the partition's committed offset and changelog are read: only then is no older
    /// transaction still able to commit behind our back.
    func openTransactions(_ run: PartitionRun) -> Bool {
        guard let config else { return false }
        let p = run.lease.partition
        var pc = producerConfig
        pc["transactional.id"] = config.kafka.transactionalId(partition: p)
        // Records leave the worker only when their transaction commits (the commit flushes):
        // a read_committed reader could not see them earlier anyway, and a transaction that
        // dies with its worker, or is fenced, then has nothing on the broker to be filtered
        // out. That matters on brokers whose aborted-record filtering is missing (Tansu 0.6
        // shows aborted records to read_committed readers; docs/CONFIG.md).
        pc["linger.ms"] = String(min(50_000, max(1000, 10 * config.worker.commitIntervalMs)))
        do {
            let txn = try KafkaProducer(config: pc, deliveryReports: false)
            try txn.initTransactions(timeoutMs: 10_000)
            run.txn = txn
            return true
        } catch {
            // Handed back, so the coordinator assigns it again (here or elsewhere).
            log.error("partition \(p): cannot start its transactional producer (\(pc["transactional.id"] ?? "")): \(error); handing the partition back")
            send(.revoked(Revoked(workerId: options.workerId, partitions: [run.lease], committed: [-1])))
            return false
        }
    }

    /// Where a partition's records go: its open transaction in exactly-once mode (begun on
    /// first use), the shared producer otherwise. nil when the partition was just given up.
    func output(for run: PartitionRun) -> KafkaProducer? {
        guard let txn = run.txn else { return producer }
        if run.txnOpen { return txn }
        do {
            try txn.beginTransaction()
            run.txnOpen = true
            return txn
        } catch {
            transactionFailed(run, error)
            return nil
        }
    }

    /// Commits the open transaction of each partition: its changelog capture (stateful
    /// specs), its input offset, and every output written since the last commit.
    /// - replayOnFailure: false when the partitions are being stopped (the next owner replays).
    func commitTransactions(_ ps: [Int32], replayOnFailure: Bool = true) {
        guard let consumer, let config, let pipeline else { return }
        for p in ps.sorted() {
            // Read past the committed offset with nothing written (a restore that resumed
            // ahead of it, see `restore`): a transaction carries the offset alone.
            if let run = parts[p], run.txn != nil, !run.txnOpen, run.position > run.committed, run.position >= 0 {
                _ = output(for: run)
            }
            guard let run = parts[p], let txn = run.txn, run.txnOpen, run.position >= 0 else { continue }
            let position = run.position
            do throws(KafkaError) {
                if stateful && hasUncaptured(run) {
                    // In the transaction, the capture needs no wait for deliveries: it
                    // becomes visible together with the outputs it covers, or not at all.
                    _ = writeCapture(p, run, records: run.state.capture(pipeline, nextOffset: position), producer: txn)
                    guard parts[p] === run else { continue }  // the transaction failed and was replayed
                }
                try txn.sendOffsetsToTransaction([TopicPartition(config.kafka.inputTopic, p): position], consumer: consumer)
                try txn.commitTransaction(timeoutMs: 10_000)
                run.txnOpen = false
                // Everything below `position` is committed: nothing left to track.
                run.tracker = OffsetTracker()
                run.committed = position
                run.durable = position
                run.changelogInFlight = 0
                report.transactionsCommitted += 1
            } catch {
                transactionFailed(run, error, replay: replayOnFailure)
            }
        }
    }

    /// A transactional call failed. Fenced, or the producer otherwise unusable: give the
    /// partition up without committing anything and hand it back to the coordinator (if we
    /// still own it there, it is assigned afresh, with a new producer; if a newer owner has
    /// it, the coordinator ignores us). Otherwise: abort, and replay the partition from its
    /// last committed transaction (feature state from the changelog).
    func transactionFailed(_ run: PartitionRun, _ error: KafkaError, replay: Bool = true) {
        let p = run.lease.partition
        guard parts[p] === run, let txn = run.txn else { return }
        if let fatal = error.isFenced || error.isFatal ? error : txn.fatalError {
            giveUp(run, because: "\(fatal.isFenced ? "fenced, a newer owner took it" : "its transactional producer failed") (\(fatal))")
            return
        }
        log.warning("partition \(p): transaction failed (\(error)); aborting it\(replay ? " and replaying from offset \(run.committed)" : "")")
        do { try txn.abortTransaction(timeoutMs: 5000) } catch {
            giveUp(run, because: "the abort failed too (\(error))")
            return
        }
        run.txnOpen = false
        report.transactionsAborted += 1
        if replay { rewind(p) }
    }

    /// Stops a partition whose transactional producer cannot go on, without a commit.
    func giveUp(_ run: PartitionRun, because why: String) {
        let p = run.lease.partition
        log.warning("partition \(p): \(why); giving it up without committing")
        report.fencedPartitions += 1
        parts[p] = nil
        if let consumer, let topic = config?.kafka.inputTopic { try? consumer.unassign([TopicPartition(topic, p)]) }
        send(.revoked(Revoked(workerId: options.workerId, partitions: [run.lease], committed: [run.committed])))
    }
}
