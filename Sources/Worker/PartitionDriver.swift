import CoreMetrics
import Foundation
import Logging
import Config
import Features
import Kafka
import Models
import Runtime
import Wire

/// The worker's data plane, a shell like `WorkerService` and driven by it: the Kafka consumer
/// and producer, a `PartitionLifecycle` per partition it feeds with Kafka's events and whose
/// directives it carries out, and the record path (poll → `RecordRunner` → `RecordOutput`).
/// Offsets are committed only after a record's output is delivered (at-least-once), or in the
/// partition's transaction (exactly-once, docs/CONFIG.md). `WorkerService` keeps the control
/// plane (the coordinator link, `WorkerSession`, metrics endpoint) and calls `turn` once per
/// loop. Owned by the worker's one thread.
final class PartitionDriver: OutputHost {
    unowned let host: PartitionDriverHost
    let workerId: String
    var log: Logger

    // Set by the coordinator's welcome (`configure`).
    var config: WorkerSettings?
    /// What every record reads of `config`, kept apart: reading `config!.kafka.outputTopic`
    /// per record copied the whole optional `WorkerSettings` (perf, issue 24).
    var outputTopic = ""
    var classes: [String] = []
    var bootstrap = ""
    var consumer: KafkaConsumer?
    var producer: KafkaProducer?
    var runner: RecordRunner?
    /// The champion and any challengers (issue 11), one parameter vector for syncing.
    var models: ModelSet?
    var consumerConfig = KafkaClientConfig()
    /// The shared producer's settings; exactly-once partition producers add their id to them.
    var producerConfig = KafkaClientConfig()
    var settings = PartitionLifecycle.Settings(stateful: false)
    /// Progressive validation; made at the first welcome and kept across re-registrations.
    var evaluation: Evaluation?

    var parts: [Int32: PartitionRun] = [:]
    /// Partitions revoked or fenced whose outputs and last capture are still finishing.
    var draining: [Int32: PartitionRun] = [:]
    /// Assigned again while still draining: started once the drain is done.
    var deferred: [Int32: PartitionLease] = [:]
    var runTokens = 0
    /// Off the loop: changelog restores, committed-offset lookups (status only).
    var restorer: ChangelogRestorer?
    var lookup: CommittedLookup?
    /// Exactly-once partitions' transactional producers, made off the loop.
    var opener: TransactionOpener?
    /// `features.repartition`: re-keys the input into the topic the record path reads.
    var repartitioner: Repartitioner?
    /// `features.repartition` with `[labels]`: re-keys the labels into the topic they are read from.
    var labelRepartitioner: Repartitioner?
    /// `[labels]`: the labels topic's reader, the event id's parser, and the join's figures
    /// of partitions no longer held, the latest label delays (status percentiles), and how many
    /// predictions wait over all partitions (the `max_pending` bound is per worker).
    var labelReader: LabelReader?
    var labelTotals = LabelStats()
    var labelDelays: [Double] = []
    var labelDelayNext = 0
    var labelPending = 0
    /// Heap per waiting prediction, estimated from the latest one served (`LabelSnapshot.residentBytes`).
    var labelEntryBytes = 0
    /// Input partitions held back until their labels catch up (`alignWithLabels`).
    var waitingForLabels: Set<Int32> = []
    /// Predictions and dead letters (made in `init`: it refers back to this driver).
    var out: RecordOutput!
    var report: WorkerReport
    /// Labelled records learnt from since the shell last took the count (`takeLearnt`).
    var learnt = 0
    var lastCommit: Int64 = 0
    var emptyPolls = 0
    /// The latest drift warning logged, and the detections since that were not (one a minute).
    var driftWarnedAt: Int64 = 0
    var driftsUnsaid = 0
    /// When the model version in use was adopted (status shows its age).
    var modelAdoptedAt = Clock.nowMs()
    /// Latest Kafka client error (broker down, ...), for status; logged once per kind per 10 s.
    var kafkaError = ""
    var kafkaErrorAt: Int64 = 0
    /// Event (the input record's Kafka timestamp) to its prediction handed to the producer, a
    /// Prometheus histogram through swift-metrics. Delivery adds the producer's linger and
    /// the broker's acknowledgement; `tributary bench` measures that whole path.
    let recordLatency = CoreMetrics.Timer(label: "tributary_record_latency_seconds")

    init(host: PartitionDriverHost, workerId: String, log: Logger) {
        self.host = host
        self.workerId = workerId
        self.log = log
        report = WorkerReport(workerId: workerId)
        out = RecordOutput(host: self, workerId: workerId)
    }

    /// The topic the record path reads: the input, or its re-keyed copy (`features.repartition`).
    var inputTopic: String { config.map { $0.features.repartition ? $0.kafka.repartitionTopic : $0.kafka.inputTopic } ?? "" }
    var changelogTopic: String { config?.kafka.effectiveChangelogTopic ?? "tributary.features" }
    /// Outputs handed to librdkafka and not yet reported (the shared producer's; a
    /// transactional producer's records are bounded by its commit interval and librdkafka's queue).
    var inFlight: Int { producer?.inFlight ?? 0 }
    var holding: Bool { !parts.isEmpty }
    var idle: Bool { parts.isEmpty && draining.isEmpty }
    /// Every partition held is running (none restoring): the worker is ready.
    var allRunning: Bool { parts.values.allSatisfy(\.life.isRunning) }
    /// librdkafka's queue wake-up fds (records, delivery reports). Transactional producers are
    /// not waited on: they report no deliveries, and their errors are read by every `serveDeliveries`.
    var wakeupFDs: [Int32] {
        ([consumer?.wakeupFD() ?? -1, producer?.wakeupFD() ?? -1, labelReader?.wakeupFD ?? -1] + (repartitioner?.wakeupFDs ?? [])
            + (labelRepartitioner?.wakeupFDs ?? [])).filter { $0 >= 0 }
    }

    func clearWakeups() {
        consumer?.clearWakeup()
        producer?.clearWakeup()
        repartitioner?.clearWakeups()
        labelRepartitioner?.clearWakeups()
        labelReader?.clearWakeup()
    }

    func heartbeatIfDue(now: Int64) { host.heartbeatIfDue(now: now) }

    func takeLearnt() -> Int {
        defer { learnt = 0 }
        return learnt
    }

    // MARK: welcome

    /// Makes the Kafka clients, pipeline and models for a welcome. Returns false when nothing
    /// the data path uses changed (a restarted coordinator may listen elsewhere; that changes
    /// nothing here) and the running clients and partitions stay.
    func configure(_ w: Welcome) throws -> Bool {
        if consumer != nil, w.bootstrap == bootstrap, let c = config, c.kafka == w.settings.kafka,
           c.features == w.settings.features, c.model == w.settings.model, c.worker == w.settings.worker {
            config = w.settings
            return false
        }
        if consumer != nil {
            log.warning("cluster changed (bootstrap \(bootstrap) -> \(w.bootstrap)); restarting Kafka clients")
            stopAll(ack: false)
            draining.removeAll()
        }
        let clients = WorkerKafkaSettings(w.settings.kafka, bootstrap: w.bootstrap)
        var cc = clients.consumer
        // `[labels]`: the end of an input partition lets the labels read ahead of its events
        // be learnt (`readLabels`), without a clock.
        if w.settings.labels.enabled { cc["enable.partition.eof"] = "true" }
        consumer = try KafkaConsumer(config: cc, batchSize: w.settings.worker.batchSize)
        producer = try KafkaProducer(config: clients.producer)
        consumerConfig = clients.consumer
        producerConfig = clients.producer
        restorer = nil
        lookup = nil
        opener = nil
        let ls = w.settings.labels
        labelReader = ls.enabled ? try LabelReader(settings: w.settings, consumerConfig: clients.consumer, log: log) : nil
        labelPending = 0
        repartitioner = w.settings.features.repartition
            ? try Repartitioner(settings: w.settings, consumerConfig: clients.consumer, producerConfig: clients.producer,
                                host: host, workerId: workerId, log: log)
            : nil
        labelRepartitioner = w.settings.features.repartition && ls.enabled
            ? try Repartitioner(settings: w.settings, labels: true, consumerConfig: clients.consumer, producerConfig: clients.producer,
                                host: host, workerId: workerId, log: log)
            : nil
        let m = w.settings.model
        // The event id of `[labels]` is read in the same parse as the features.
        let p = FeaturePipeline(spec: w.settings.features, labelClasses: m.type == .softmaxRegression ? m.classes : [],
                                extraText: w.settings.labels.enabled ? [w.settings.labels.id] : [])
        runner = RecordRunner(pipeline: p)
        // Waiting predictions are partition state too: with a labels topic the changelog holds them.
        settings = PartitionLifecycle.Settings(stateful: p.spec.isStateful || ls.enabled, exactlyOnce: w.settings.kafka.guarantee == .exactlyOnce)
        var set = ModelSet(layout: w.layout ?? w.settings.layout, features: w.settings.features)
        // Start from the cluster's global model (the scaler stays local: see ARCHITECTURE.md).
        if w.modelVersion > 0 && w.modelParameters.count == set.geometry.parameterCount {
            set.setParameters(w.modelParameters)
        }
        report.modelVersion = w.modelVersion
        modelAdoptedAt = Clock.nowMs()
        models = set
        if evaluation?.report.whole.task != m.type.task { evaluation = m.makeEvaluation() }
        config = w.settings
        outputTopic = w.settings.kafka.outputTopic
        classes = m.classes
        bootstrap = w.bootstrap
        log.info("registered; Kafka at \(w.bootstrap), input \(w.settings.kafka.inputTopic)\(w.settings.features.repartition ? " re-keyed by \(w.settings.features.key) into \(w.settings.kafka.repartitionTopic)" : ""), \(p.width) features")
        return true
    }

    // MARK: one loop turn

    /// Off-loop results, deliveries, draining stops, then records for at most `budgetMs`
    /// (heartbeating between batches), then the commit tick. Returns whether records may be
    /// waiting (the shell then does not wait before the next turn).
    func turn(now: Int64, budgetMs: Int64) -> Bool {
        collectOpened()
        collectRestores()
        collectCommitted()
        serveDeliveries(timeoutMs: 0)
        drainStopping(now: now)
        var rekeying = repartitioner?.turn(now: now, maxInFlight: config?.worker.maxInFlight ?? 50_000) { kafkaTrouble($0, $1) } ?? false
        if let lr = labelRepartitioner, lr.turn(now: now, maxInFlight: config?.worker.maxInFlight ?? 50_000, trouble: { kafkaTrouble($0, $1) }) {
            rekeying = true
        }
        let labelling = readLabels(now: now)
        guard let consumer, !parts.isEmpty else { return rekeying || labelling }
        var mayHaveMore = rekeying || labelling
        if inFlight < (config?.worker.maxInFlight ?? 50_000) {
            // A few batches, then round the loop again so control messages and heartbeats stay
            // timely under full load. Bounded by time as well as by count: a slow CPU (a
            // sanitizer build is 5-15x slower) must not stretch one turn past a heartbeat
            // period. (At the in-flight bound nothing is read until deliveries catch up; their
            // reports wake the shell's wait.)
            for _ in 0..<8 {
                alignWithLabels()
                let before = report.firstRecordWallMs == 0 ? Clock.wallMs() : 0
                let n = consumer.poll(timeoutMs: 0, onError: { kafkaTrouble("consumer", $0) },
                                      onEndOfPartition: { p, _ in parts[p]?.inputAtEnd = true }) { rec in process(rec) }
                serveDeliveries(timeoutMs: 0)
                if n == 0 { emptyPolls += 1; break }
                mayHaveMore = true
                if report.firstRecordWallMs == 0 { report.firstRecordWallMs = before }
                report.lastRecordWallMs = Clock.wallMs()
                let t = Clock.nowMs()
                host.heartbeatIfDue(now: t)
                if t - now >= budgetMs { break }
            }
        }
        if now - lastCommit >= Int64(config?.worker.commitIntervalMs ?? 200) {
            lastCommit = now
            // A partition at a time, heartbeating between them: a full capture of a large
            // state is long (under ASan 4 of ~22,000 keys each in one turn once kept a worker
            // silent past a 1 s failure timeout).
            for run in parts.values {
                execute(run.life.commitTick(dirty: run.isDirty), for: run)
                host.heartbeatIfDue(now: Clock.nowMs())
            }
        }
        return mayHaveMore
    }

    /// At shutdown: hands back every partition (outputs delivered, offsets committed), waiting
    /// at most the stop timeout, heartbeating meanwhile.
    func stopAndDrain() {
        log.info("stopping: handing back \(parts.count) partitions")
        stopAll(ack: true)
        let deadline = Clock.nowMs() + settings.stopTimeoutMs + 1000
        while !draining.isEmpty && Clock.nowMs() < deadline {
            serveDeliveries(timeoutMs: 20)
            drainStopping(now: Clock.nowMs())
            host.heartbeatIfDue(now: Clock.nowMs())
        }
    }

    func redelivered(_ run: PartitionRun, _ offset: Int64) {
        report.redeliveredOffsets += 1
        guard !run.inRedelivery else { return }
        run.inRedelivery = true
        log.warning("partition \(run.life.partition): the consumer delivered offset \(offset) again (next expected \(run.life.position)); records already processed are skipped, not processed twice")
    }

    func flush() {
        repartitioner?.close(timeoutMs: 10_000)
        labelRepartitioner?.close(timeoutMs: 10_000)
        labelReader?.close()
        if let producer, producer.inFlight > 0 { _ = producer.drain(timeoutMs: 10_000) { _ in } }
        if settings.exactlyOnce {
            log.info("exactly-once: \(report.transactionsCommitted) transactions committed, \(report.transactionsAborted) aborted, \(report.fencedPartitions) partitions fenced")
        }
    }

    // MARK: records

    func process(_ rec: borrowing ConsumedRecord) {
        let p = rec.partition
        // A record fetched before a revoke took effect: leave it to the next owner.
        guard let run = parts[p], let producer = output(for: run) else { return }
        let offset = rec.offset
        // Delivered again by the consumer (`readAlready`), before anything else looks at it:
        // processing it again would duplicate its output and learn from it twice.
        if run.life.readAlready(offset) {
            redelivered(run, offset)
            return
        }
        run.inRedelivery = false
        var failed: RecordRunner.Outcome?
        if run.labels != nil {
            // `[labels]`: the labels up to this event's time are learnt before it is scored;
            // when they are not all read yet, the partition waits here (`labelsDue`).
            guard run.blockedAt == nil else { return }
            run.inputAtEnd = false
            let kafkaMs = rec.timestampMs
            failed = runner!.parse(value: rec.value, key: rec.key, kafkaTimestampMs: kafkaMs)
            if failed == nil && !labelsDue(run, offset: offset, time: runner!.event.timestamp ?? Double(kafkaMs) / 1000) { return }
        }
        let skipped = run.life.read(offset)
        if skipped > 0 {
            report.skippedOffsets += skipped
            log.warning("partition \(p): offsets \(offset - skipped)..<\(offset) were never read (deleted by the broker before this worker reached them, or compacted away)")
        }
        report.processed += 1
        let tag = run.tag(.output, offset: offset)
        let outcome: RecordRunner.Outcome
        if run.labels == nil {
            outcome = runner!.run(value: rec.value, key: rec.key, kafkaTimestampMs: rec.timestampMs, state: &run.state,
                                  models: &models!, evaluation: &evaluation!) { learnt += 1 }
        } else if let failed {
            outcome = failed
        } else {
            outcome = runner!.score(state: &run.state, models: &models!, evaluation: &evaluation!) { learnt += 1 }
        }
        if !runner!.keyed { keyMismatch(run, rec.key) }
        // `config!` field by field, never `let config`: a ClusterConfig copy per record showed in profiles.
        switch outcome {
        case .deadLetter(let reason, let error):
            out.deadLetter(rec, run, producer: producer, kafka: config!.kafka, reason: reason, error: error, tag: tag)
        case .late(true):
            out.deadLetter(rec, run, producer: producer, kafka: config!.kafka, reason: "late", error: runner!.lateReason(run.state), tag: tag)
        case .late(false):
            // Counted, not scored: nothing to deliver, so the offset is done at once.
            run.life.finished(offset)
        case .scored(let served, let drift):
            if drift {
                report.lastDriftWallMs = Clock.wallMs()
                // At most one warning a minute: at 100,000 events/s a drifting stream fires the
                // detector every few hundred ms. Status shows the latest detection regardless.
                if report.lastDriftWallMs - driftWarnedAt >= 60_000 {
                    let e = evaluation!.report
                    let more = driftsUnsaid > 0 ? " (and \(driftsUnsaid) more detections since the last warning)" : ""
                    log.warning("drift detected in the running loss after \(e.whole.count) labelled predictions (Page-Hinkley > \(e.driftThreshold)); recent \(e.window.figures.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))\(more)")
                    driftWarnedAt = report.lastDriftWallMs
                    driftsUnsaid = 0
                } else {
                    driftsUnsaid += 1
                }
            }
            if runner!.event.label != nil { report.labelled += 1 }
            if let error = emit(served, run, offset, producer, outputTopic, tag: tag, withFeatures: runner!.pipeline.spec.emit) {
                // A failed transaction aborts and replays this record (`transactionFailed`).
                if run.txn === producer { return }
                // The prediction can never be queued (too large for message.max.bytes, or its
                // topic is unknown): the input goes to the dead letters with the reason instead.
                out.deadLetter(rec, run, producer: producer, kafka: config!.kafka, reason: "undeliverable-prediction",
                               error: "the prediction could not be produced to \(outputTopic): \(error)", tag: tag)
                return
            }
            models!.countServed(served)
            if models!.models.count > 1 && !config!.shadowTopic.isEmpty {
                // Shadow scoring: every other model's prediction of this record, same shape.
                for i in models!.models.indices where i != served {
                    if let error = emit(i, run, offset, producer, config!.shadowTopic, tag: run.tag(.shadow), withFeatures: false) {
                        out.shadowFailed(error)
                    } else {
                        out.shadowPredictions += 1
                    }
                }
            }
            report.predictions += 1
            run.life.produced(offset)
            if run.labels != nil && runner!.event.label == nil { waitForLabel(rec, run, served: served) }
            if rec.timestampMs > 0 { recordLatency.recordMilliseconds(max(0, Clock.wallMs() - rec.timestampMs)) }
        }
    }

    /// Model `i`'s prediction of the record just run (see `RecordOutput.prediction`).
    func emit(_ i: Int, _ run: PartitionRun, _ offset: Int64, _ producer: KafkaProducer, _ topic: String, tag: Int, withFeatures: Bool) -> KafkaError? {
        // The runner and the models are lent in place (inout): passed by value, each was
        // copied out of this object per record, a retain and release of every buffer in it.
        out.prediction(by: i, of: &models!, runner: &runner!, classes: classes,
                       version: report.modelVersion, run: run, offset: offset, producer: producer, topic: topic, tag: tag, withFeatures: withFeatures)
    }

    /// Where a partition's records go: its open transaction in exactly-once mode (begun on
    /// first use), the shared producer otherwise. nil when the partition was just given up.
    func output(for run: PartitionRun) -> KafkaProducer? {
        guard let txn = run.txn else { return producer }
        if run.life.transactionOpen { return txn }
        do {
            try txn.beginTransaction()
            run.life.transactionBegun()
            return txn
        } catch {
            transactionFailed(run, error)
            return nil
        }
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
        if let r = parts[tag.partition], DeliveryTag.generation(of: r.token) == tag.generation { return r }
        if let r = draining[tag.partition], DeliveryTag.generation(of: r.token) == tag.generation { return r }
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
            case .label:
                if let e = dr.error { kafkaTrouble("dead letter of a label record", e) }
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

    // MARK: status

    /// librdkafka retries by itself; we surface the state (status, one log line per kind per
    /// 10 s) instead of flooding the log.
    func kafkaTrouble(_ client: String, _ e: KafkaError) {
        let now = Clock.nowMs()
        let text = "\(client): \(e)"
        if text != kafkaError || now - kafkaErrorAt > 10_000 { log.warning("Kafka \(text) (librdkafka retries)") }
        kafkaError = text
        kafkaErrorAt = now
    }

    func currentReport() -> WorkerReport {
        var r = report
        let ago = Clock.nowMs() - kafkaErrorAt
        r.kafkaError = ago < 10_000 ? kafkaError : ""
        r.kafkaErrorMsAgo = ago
        if let e = evaluation?.report {
            r.accuracy = e.whole.accuracy
            r.logLoss = e.whole.meanLoss
            r.evaluation = e
            r.metrics = e.whole.summary
            r.windowMetrics = e.window.summary
        }
        r.inFlight = inFlight
        r.deadLetters = out.deadLetters
        r.deadLettersByReason = out.deadLettersByReason
        if labelReader != nil {
            var l = labelTotals
            for run in Array(parts.values) + Array(draining.values) {
                guard let j = run.labels else { continue }
                l = l + Self.stats(j)
            }
            let sorted = labelDelays.sorted()
            if !sorted.isEmpty {
                l.delayP50 = sorted[sorted.count / 2]
                l.delayP99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
            }
            l.pendingBytes = Int64(labelPending * labelEntryBytes)
            // Label records without the key field, met while re-keying them.
            l.deadLetters += Int64(labelRepartitioner?.deadLetters ?? 0)
            r.labels = l
        }
        if let rp = repartitioner {
            r.deadLetters += Int64(rp.deadLetters)
            r.deadLettersByReason.merge(rp.deadLettersByReason.mapValues { Int64($0) }, uniquingKeysWith: +)
            r.repartitioned = rp.rekeyed
        }
        r.shadowPredictions = out.shadowPredictions
        r.shadowFailed = out.shadowFailed
        r.models = models?.reports ?? []
        r.modelAgeMs = Clock.nowMs() - modelAdoptedAt
        if let c = runner?.counters {
            r.badValues = c.badValues.mapValues { Int64($0) }
            r.lateDropped = Int64(c.lateDropped)
            r.expiredKeys = Int64(c.expiredKeys)
        }
        let topic = inputTopic
        r.partitions = parts.values.sorted { $0.life.partition < $1.life.partition }.map { run in
            run.report(watermarks: consumer?.cachedWatermarks(TopicPartition(topic, run.life.partition)))
        }
        return r
    }
}
