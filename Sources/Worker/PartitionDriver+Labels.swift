import Features
import Kafka
import Models
import Wire

/// `[labels]`: predictions that wait for labels from their own topic, and learning from the
/// inputs they were served with when a label comes (`LabelJoin` decides; this carries it out).
extension PartitionDriver {
    /// A join for a partition starting (nil without a labels topic). Each partition also
    /// stops at `max_pending` alone; the worker-wide bound is kept in `waitForLabel`.
    func makeLabelJoin() -> LabelJoin<LabelSnapshot>? {
        guard let l = config?.labels, l.enabled else { return nil }
        return LabelJoin(settings: .init(horizon: l.horizonSeconds, maxPending: l.maxPending, learnNegative: l.onExpired == .learnNegative))
    }

    /// An unlabelled record just served: its inputs and predictions wait for its label.
    func waitForLabel(_ rec: borrowing ConsumedRecord, _ run: PartitionRun, served: Int) {
        // runner!, models! field by field: a copy of either per record retains every buffer in it.
        guard let parser = idParser, idEvent != nil, runner != nil, models != nil else { return }
        let value = rec.value, kafkaMs = rec.timestampMs
        do { try parser.parse(value, into: &idEvent!) } catch {
            labelTotals.noId += 1
            return
        }
        let time = runner!.event.timestamp ?? Double(kafkaMs) / 1000
        let snapshot = LabelSnapshot(dense: runner!.features, sparseIndices: runner!.sparse.indices, sparseValues: runner!.sparse.values,
                                     outputs: models!.outputs, served: served, modelVersion: report.modelVersion)
        let before = run.labels!.pendingCount
        var learns = run.labels!.served(id: idEvent!.key, time: time, snapshot: snapshot)
        labelPending += run.labels!.pendingCount - before
        // The worker-wide bound: the oldest of this partition go first.
        let limit = config?.labels.maxPending ?? Int.max
        while labelPending > limit, run.labels!.pendingCount > 0 {
            learns += run.labels!.evictOldest()
            labelPending -= 1
        }
        learn(learns)
    }

    /// Label records read this turn, each to its partition's join.
    func readLabels(now: Int64) -> Bool {
        guard let reader = labelReader else { return false }
        return reader.turn(now: now, trouble: { kafkaTrouble($0, $1) }, handle: { label in
            guard let run = parts[label.partition], run.labels != nil else { return }
            let before = run.labels!.pendingCount
            let learns = run.labels!.label(id: label.id, value: label.value, time: label.time)
            labelPending += run.labels!.pendingCount - before
            learn(learns)
        }, deadLetter: { rec, reason, error in
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
    }

    /// Each model learns from the inputs a label belongs to; the served model's prediction of
    /// then is scored now, in the progressive metrics.
    func learn(_ learns: [LabelJoin<LabelSnapshot>.Learn]) {
        guard !learns.isEmpty, models != nil, evaluation != nil else { return }
        let widths = models!.models.map(\.output.count)
        for l in learns {
            let s = l.snapshot
            models!.learn(s.dense, sparse: SparseInput(indices: s.sparseIndices.map(Int.init), values: s.sparseValues), label: l.label)
            let o = models!.observeLater(s.outputs(widths: widths), served: Int(s.served), label: l.label)
            _ = evaluation!.observe(o)
            report.labelled += 1
            if models!.learns { learnt += 1 }
            if labelDelays.count < 4096 { labelDelays.append(l.delay) } else { labelDelays[labelDelayNext] = l.delay }
            labelDelayNext = (labelDelayNext + 1) % 4096
        }
    }

    /// Reads the two streams of a partition in event-time order, to a consumer batch: an input
    /// partition whose served events are ahead of its labels' time waits (paused) until the
    /// labels catch up, or until every label written so far is read. So a label is learnt
    /// before the events that follow it in time are scored, as River's delayed
    /// progressive validation does (granularity: one poll, `worker.batch_size` records).
    func alignWithLabels() {
        guard let reader = labelReader, let consumer else { return }
        for (p, run) in parts {
            guard let j = run.labels else { continue }
            let wait = j.eventTime > j.labelTime && !reader.caughtUp(p)
            if wait && !waitingForLabels.contains(p) {
                waitingForLabels.insert(p)
                consumer.pause([TopicPartition(inputTopic, p)])
            } else if !wait && waitingForLabels.contains(p) {
                waitingForLabels.remove(p)
                consumer.resume([TopicPartition(inputTopic, p)])
            }
        }
    }

    /// A partition given up: its join's figures stay in the totals; what still waited is
    /// counted as dropped on the move.
    func retireLabels(_ run: PartitionRun) {
        guard let j = run.labels else { return }
        var s = Self.stats(j)
        s.droppedOnMove += Int64(j.pendingCount)
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
        s.duplicate = c.duplicate
        s.unknown = c.unknown
        s.pending = Int64(j.pendingCount)
        s.earlyLabels = Int64(j.earlyCount)
        return s
    }
}
