import Features
import Kafka
import Models
import Runtime
import Wire

/// `[labels]`: predictions that wait for labels from their own topic, and learning from the
/// inputs they were served with when a label comes (`LabelJoin` decides; this carries it out).
extension PartitionDriver {
    /// A join for a partition starting (nil without a labels topic). Each partition also
    /// stops at `max_pending` alone; the worker-wide bound is kept in `waitForLabel`.
    func makeLabelJoin() -> LabelJoin<LabelSnapshot>? {
        guard let l = config?.labels, l.enabled else { return nil }
        return LabelJoin(settings: .init(horizon: l.horizonSeconds, maxPending: l.maxPending, learnNegative: l.onExpired == .learnNegative,
                                         learnLate: l.lateLabels == .learn))
    }

    /// An unlabelled record just served: its inputs and predictions wait for its label.
    func waitForLabel(_ rec: borrowing ConsumedRecord, _ run: PartitionRun, served: Int) {
        // runner!, models! field by field: a copy of either per record retains every buffer in it.
        let kafkaMs = rec.timestampMs
        guard runner != nil, models != nil, let slot = runner!.pipeline.extraTextSlots.first else { return }
        guard runner!.event.textStatus[slot] == .present else {
            labelTotals.noId += 1
            return
        }
        let time = runner!.event.timestamp ?? Double(kafkaMs) / 1000
        // Exactly as large as it must be (appending to a copy of the features doubled it).
        var values = [Double]()
        values.reserveCapacity(runner!.features.count + models!.outputCount)
        values += runner!.features
        models!.appendOutputs(to: &values)
        var snapshot = LabelSnapshot(values: values, denseCount: runner!.features.count, sparseIndices: runner!.sparse.indices,
                                     sparseValues: runner!.sparse.values, served: served, modelVersion: report.modelVersion)
        snapshot.targets = runner!.pipeline.targetValues(of: runner!.event)
        labelEntryBytes = snapshot.residentBytes
        let id = runner!.event.texts[slot]
        let before = run.labels!.pendingCount
        var learns = run.labels!.served(id: id, time: time, snapshot: snapshot)
        labelPending += run.labels!.pendingCount - before
        // The worker-wide bound: the oldest of this partition go first.
        let limit = config?.labels.maxPending ?? Int.max
        while labelPending > limit, run.labels!.pendingCount > 0 {
            learns += run.labels!.evictOldest()
            labelPending -= 1
        }
        learn(learns, run)
    }

    /// Label records read this turn, queued by partition (`LabelReader`); those due are learnt:
    /// labels up to each partition's newest event time, and all of them once its input is read
    /// to its end (a quiet input, or the end of a replay): no event can come before them then.
    func readLabels(now: Int64) -> Bool {
        guard let reader = labelReader else { return false }
        let more = reader.turn(now: now, trouble: { kafkaTrouble($0, $1) }, deadLetter: { rec, reason, error in
            labelTotals.deadLetters += 1
            guard let producer, let dlq = config?.kafka.deadLetterTopic else { return }
            let headers = [("tributary.reason", reason), ("tributary.error", error), ("tributary.source.topic", reader.topic),
                           ("tributary.source.partition", String(rec.partition)), ("tributary.source.offset", String(rec.offset)),
                           ("tributary.worker", workerId)]
            do {
                try producer.produce(topic: dlq, key: rec.key, value: rec.value, headers: headers,
                                     tag: DeliveryTag(.label, partition: rec.partition, generation: 0).rawValue)
            } catch {
                kafkaTrouble("produce to \(dlq)", error as? KafkaError ?? KafkaError(.illegalState, message: "\(error)"))
            }
        })
        for (p, run) in parts where run.labels != nil && reader.hasQueued(p) {
            let idle = run.blockedAt == nil && !waitingForLabels.contains(p) && run.inputAtEnd
            applyLabels(run, upTo: idle ? .infinity : run.labels!.eventTime)
        }
        return more
    }

    /// The queued labels of `run`'s partition up to event time `t`, each to its join.
    func applyLabels(_ run: PartitionRun, upTo t: Double) {
        labelReader?.take(run.life.partition, upTo: t) { label in
            let before = run.labels!.pendingCount
            let learns = run.labels!.label(id: label.id, value: label.value, time: label.time)
            labelPending += run.labels!.pendingCount - before
            learn(learns, run)
        }
    }

    /// Before an event at `time` is scored: every label up to `time` is learnt, as River's
    /// delayed progressive validation reveals them (`simulate_qa`: answers due at or before
    /// an event come before its question). When the labels read so far end before `time` and
    /// more may be written, the partition waits at this record: paused and sought back to it
    /// (the rest of the batch is skipped and fetched again), until a later label or the end
    /// of the label partition is read (`alignWithLabels`).
    func labelsDue(_ run: PartitionRun, offset: Int64, time: Double) -> Bool {
        guard let reader = labelReader, let consumer else { return true }
        let p = run.life.partition
        applyLabels(run, upTo: time)
        if reader.readyFor(p) { return true }
        run.blockedAt = offset
        waitingForLabels.insert(p)
        let tp = TopicPartition(inputTopic, p)
        consumer.pause([tp])
        do { try consumer.seek(tp, to: offset) } catch {
            // Not sought back: restart the partition from its commit rather than skip records.
            log.error("partition \(p): cannot seek back to offset \(offset) to wait for labels (\(error)); restarting it from its commit")
            run.blockedAt = nil
            waitingForLabels.remove(p)
            rewind(run)
        }
        return false
    }

    /// Each model learns from the inputs a label belongs to; the served model's prediction of
    /// then is scored now, in the progressive metrics.
    /// The label joins the partition's target encodings too, as an in-event label does.
    func learn(_ learns: [LabelJoin<LabelSnapshot>.Learn], _ run: PartitionRun) {
        guard !learns.isEmpty, models != nil, evaluation != nil, runner != nil else { return }
        let widths = models!.models.map(\.output.count)
        for l in learns {
            let s = l.snapshot
            models!.learn(s.dense, sparse: SparseInput(indices: s.sparseIndices.map(Int.init), values: s.sparseValues), label: l.label)
            if !s.targets.isEmpty { runner!.pipeline.learnTargets(values: s.targets, label: l.label, time: l.time, state: &run.state) }
            let outputs = s.outputs(widths: widths)
            let o = models!.observeLater(outputs, served: Int(s.served), label: l.label)
            if models!.referenceShare > 0 {
                models!.sampleReference(key: nil, dense: s.dense, sparse: SparseInput(indices: s.sparseIndices.map(Int.init), values: s.sparseValues),
                                        label: l.label, output: outputs[models!.champion])
            }
            _ = evaluation!.observe(o)
            report.labelled += 1
            if models!.learns { learnt += 1 }
            if labelDelays.count < 4096 { labelDelays.append(l.delay) } else { labelDelays[labelDelayNext] = l.delay }
            labelDelayNext = (labelDelayNext + 1) % 4096
        }
    }

    /// Holds and releases input partitions for their labels: one is assigned to the consumer
    /// once its label partition has answered (a label or its end), and one stopped at a record
    /// by `labelsDue` waits (paused) until a later label, or the end of the label partition, is read.
    func alignWithLabels() {
        guard let reader = labelReader, let consumer else { return }
        for (p, run) in parts where run.labels != nil {
            // Held before any fetch, so the first wait costs no refetch (pausing after a first
            // batch cost a third of the throughput with 32 partitions).
            if let from = run.heldStart {
                if reader.hasAnswered(p) {
                    run.heldStart = nil
                    assignInput(run, from: from)
                }
                continue
            }
            let wait = !reader.hasAnswered(p) || (run.blockedAt != nil && !reader.readyFor(p))
            if wait && !waitingForLabels.contains(p) {
                waitingForLabels.insert(p)
                consumer.pause([TopicPartition(inputTopic, p)])
            } else if !wait && waitingForLabels.contains(p) {
                waitingForLabels.remove(p)
                run.blockedAt = nil
                consumer.resume([TopicPartition(inputTopic, p)])
            }
        }
    }

    /// The join's part of a capture: its records, and the labels offset and clocks they cover
    /// (the loop is between records, so the join reflects exactly the labels handed over).
    func labelCapture(_ run: PartitionRun) -> SideCapture? {
        guard run.labels != nil else { return nil }
        return SideCapture(offset: labelReader?.position(run.life.partition) ?? -1, eventTime: run.labels!.eventTime,
                           sideTime: run.labels!.labelTime) { full in
            run.labels!.capture(full: full) { snapshot, time in snapshot.encoded(time: time) }
        }
    }

    /// A partition's state is restored: its waiting predictions come back from the changelog,
    /// and its labels are read from the offset they cover (from the group's commit when the
    /// changelog has none).
    func restoreLabels(_ run: PartitionRun) {
        guard let reader = labelReader, let fresh = makeLabelJoin() else { return }
        let p = run.life.partition
        labelPending -= run.labels?.pendingCount ?? 0
        let side = run.state.side
        run.labels = side.records.isEmpty && side.offset < 0 ? fresh
            : LabelJoin(settings: fresh.settings, restoring: side, decode: LabelSnapshot.decode)
        labelPending += run.labels!.pendingCount
        reader.stop(p)
        reader.start(p, from: side.offset >= 0 ? side.offset : nil)
        if run.labels!.pendingCount > 0 {
            log.info("partition \(p): \(run.labels!.pendingCount) predictions waiting for labels restored; labels from offset \(side.offset)")
        }
    }

    /// Called as input partition `p` is to be assigned: with a labels topic it is handed to the
    /// consumer only once its label partition has answered (`alignWithLabels`). Returns whether
    /// it is held. Not assigned and paused: a pause or resume while librdkafka 2.0 still looks
    /// up a logical start offset leaves its offset-query timer armed, and the timer later
    /// resets the running partition to that offset (seen: offset 0 fetched again at 370).
    func holdForLabels(_ run: PartitionRun, from: Int64?) -> Bool {
        guard let reader = labelReader, run.labels != nil, !reader.hasAnswered(run.life.partition) else { return false }
        run.heldStart = .some(from)
        return true
    }

    /// A partition given up: its join's figures stay in the totals; what still waited goes
    /// with the partition (its last capture) and is counted here as handed on.
    func retireLabels(_ run: PartitionRun) {
        guard let j = run.labels else { return }
        var s = Self.stats(j)
        s.handedOn += Int64(j.pendingCount)
        s.pending = 0
        s.earlyLabels = 0
        labelTotals = labelTotals + s
        labelPending -= j.pendingCount
        run.labels = nil
        if waitingForLabels.remove(run.life.partition) != nil { consumer?.resume([TopicPartition(inputTopic, run.life.partition)]) }
    }

    static func stats(_ j: LabelJoin<LabelSnapshot>) -> LabelStats {
        var s = LabelStats()
        let c = j.counters
        s.joined = c.joined
        s.expired = c.expired
        s.evicted = c.evicted
        s.late = c.late
        s.lateLearnt = c.lateLearnt
        s.duplicate = c.duplicate
        s.unknown = c.unknown
        s.pending = Int64(j.pendingCount)
        s.earlyLabels = Int64(j.earlyCount)
        return s
    }
}
