import CoreMetrics
import Foundation
import Logging
import Config
import Features
import Kafka
import Models
import Wire
import ZeroMQ
import Runtime

/// The worker's I/O shell. One thread runs everything: the DEALER to the coordinator, the
/// Kafka consumer (partitions chosen by the coordinator) and producer, the metrics endpoint.
/// The decisions live in pure pieces it feeds and obeys: `WorkerSession` (registration,
/// lease, heartbeats, model sync), a `PartitionLifecycle` per partition (start, restore,
/// checkpoints, commits, stop) and `RecordRunner` (parse → features → models → output).
/// Nothing in its loop waits on the network for longer than one poll: restores and committed
/// lookups run off the loop, stops drain across turns, and heartbeats go out meanwhile.
public final class WorkerService: OutputHost {
    let options: WorkerOptions
    var log: Logger
    let context = ZmqContext()
    let dealer: ZmqSocket
    let metricsServer: MetricsServer?

    // Set by the coordinator's welcome.
    var config: ClusterConfig?
    var bootstrap = ""
    var consumer: KafkaConsumer?
    var producer: KafkaProducer?
    var runner: RecordRunner?
    /// The champion and any challengers (issue 11), one parameter vector for syncing.
    var models: ModelSet?
    var consumerConfig = KafkaClientConfig()
    /// The shared producer's settings; exactly-once partition producers add their id to them.
    var producerConfig = KafkaClientConfig()
    var session: WorkerSession
    var settings = PartitionLifecycle.Settings(stateful: false)

    var parts: [Int32: PartitionRun] = [:]
    /// Partitions revoked or fenced whose outputs and last capture are still finishing.
    var draining: [Int32: PartitionRun] = [:]
    /// Assigned again while still draining: started once the drain is done.
    var deferred: [Int32: PartitionLease] = [:]
    var runTokens = 0
    /// Off the loop: changelog restores, committed-offset lookups (status only).
    var restorer: ChangelogRestorer?
    var lookup: CommittedLookup?
    /// Predictions and dead letters (made in `init`: it refers back to this shell).
    var out: RecordOutput!
    var report: WorkerReport
    /// Progressive validation; made at the first welcome and kept across re-registrations.
    var evaluation: Evaluation?
    /// Events/s over the last heartbeat period: where the window started and the count then.
    var rateWindowStart = Clock.nowMs()
    var rateWindowCount: Int64 = 0
    /// When the model version in use was adopted (status shows its age).
    var modelAdoptedAt = Clock.nowMs()
    /// Time blocked waiting for records while holding partitions (a starved pipeline shows here).
    var idleMs: Int64 = 0
    var waits = 0
    var emptyPolls = 0
    /// Latest Kafka client error (broker down, ...), for status; logged once per kind per 10 s.
    var kafkaError = ""
    var kafkaErrorAt: Int64 = 0
    /// Figures published into the process's metrics registry at each scrape.
    let scrape = ScrapePublisher()
    /// Event (the input record's Kafka timestamp) to its prediction handed to the producer, a
    /// Prometheus histogram through swift-metrics. Delivery adds the producer's linger and
    /// the broker's acknowledgement; `tributary bench` measures that whole path.
    let recordLatency = CoreMetrics.Timer(label: "tributary_record_latency_seconds")

    public init(options: WorkerOptions) throws {
        self.options = options
        log = Log.logger("worker \(options.workerId)", level: options.logLevel ?? "info")
        report = WorkerReport(workerId: options.workerId)
        session = WorkerSession(now: Clock.nowMs())
        dealer = try ZmqSocket(context, .dealer, lingerMs: 1000, maxMessageSize: 16 << 20)
        try dealer.setIdentity(Array(options.workerId.utf8))
        try dealer.setReconnect(minMs: 100, maxMs: 2000)
        metricsServer = try options.metricsBind.map { try MetricsServer(address: $0) }
        if let m = metricsServer, let bind = options.metricsBind, let colon = bind.lastIndex(of: ":") {
            log.info("metrics on http://\(bind[..<colon]):\(m.port)/metrics (probes /healthz, /readyz)")
        }
        do { try dealer.connect(options.coordinator, curve: options.curve) } catch {
            throw ServiceError("cannot connect to coordinator \(options.coordinator): \(error)")
        }
        out = RecordOutput(host: self, workerId: options.workerId)
    }

    // MARK: loop

    /// Runs until `shouldStop()`; then hands back every partition (delivered, committed)
    /// and tells the coordinator it leaves. Returns the process exit code.
    public func run(shouldStop: () -> Bool) -> Int32 {
        log.info("connecting to coordinator \(options.coordinator)")
        var lastCommit: Int64 = 0
        var mayHaveMore = false
        while !shouldStop() {
            // One wait for everything: a control message, records (librdkafka's queue
            // wake-up fd), delivery reports, a metrics client, or the next tick. Never blocks
            // while records may be waiting. Transactional producers are not waited on: they
            // report no deliveries, and their errors are read by every `serveDeliveries`.
            let kafkaFds = [consumer?.wakeupFD() ?? -1, producer?.wakeupFD() ?? -1].filter { $0 >= 0 }
            let fds = kafkaFds + (metricsServer?.fds ?? [])
            let waitStart = mayHaveMore ? 0 : Clock.nowMs()
            let ready = zmqPollReadable([dealer], fds: fds, timeoutMs: mayHaveMore ? 0 : (parts.isEmpty && draining.isEmpty ? 50 : 10))
            if !mayHaveMore && !parts.isEmpty { idleMs += Clock.nowMs() - waitStart; waits += 1 }
            consumer?.clearWakeup()
            producer?.clearWakeup()
            if let m = metricsServer, ready.fds[kafkaFds.count...].contains(true) {
                // Ready: registered, and every partition held is running (none restoring).
                m.serve(ready: session.welcomed && parts.values.allSatisfy(\.life.isRunning)) { WorkerMetrics.render(currentReport(), into: scrape) }
            }
            let now = Clock.nowMs()
            execute(session.tick(now: now, holding: !parts.isEmpty))
            // Control plane first: assignments and revokes take effect before more data.
            if ready.sockets[0] {
                while let frames = try? dealer.receive(dontWait: true) { handleControl(frames) }
            }
            execute(session.timers(now: now, holding: !parts.isEmpty))
            collectRestores()
            collectCommitted()
            // Data plane.
            serveDeliveries(timeoutMs: 0)
            drainStopping(now: now)
            mayHaveMore = false
            if let consumer, !parts.isEmpty {
                if inFlight < (config?.worker.maxInFlight ?? 50_000) {
                    // A few batches, then round the loop again so control messages and
                    // heartbeats stay timely under full load. Bounded by time as well as by
                    // count: a slow CPU (a sanitizer build is 5-15x slower) must not stretch
                    // one turn past a heartbeat period. (At the in-flight bound nothing is
                    // read until deliveries catch up; their reports wake the wait above.)
                    let turnBudget = max(5, session.heartbeatMs / 4)
                    for _ in 0..<8 {
                        let before = report.firstRecordWallMs == 0 ? Clock.wallMs() : 0
                        let n = consumer.poll(timeoutMs: 0, onError: { kafkaTrouble("consumer", $0) }) { rec in process(rec) }
                        serveDeliveries(timeoutMs: 0)
                        if n == 0 { emptyPolls += 1; break }
                        mayHaveMore = true
                        if report.firstRecordWallMs == 0 { report.firstRecordWallMs = before }
                        report.lastRecordWallMs = Clock.wallMs()
                        let t = Clock.nowMs()
                        heartbeatIfDue(now: t)
                        if t - now >= turnBudget { break }
                    }
                }
                if now - lastCommit >= Int64(config?.worker.commitIntervalMs ?? 200) {
                    lastCommit = now
                    // A partition at a time, heartbeating between them: a full capture of a
                    // large state is long (under ASan 4 of ~22,000 keys each in one turn once
                    // kept a worker silent past a 1 s failure timeout).
                    for run in parts.values {
                        execute(run.life.commitTick(dirty: run.state.isDirty), for: run)
                        heartbeatIfDue(now: Clock.nowMs())
                    }
                }
            }
        }
        log.info("stopping: handing back \(parts.count) partitions")
        stopAll(ack: true)
        let deadline = Clock.nowMs() + settings.stopTimeoutMs + 1000
        while !draining.isEmpty && Clock.nowMs() < deadline {
            serveDeliveries(timeoutMs: 20)
            drainStopping(now: Clock.nowMs())
            heartbeatIfDue(now: Clock.nowMs())
        }
        if session.welcomed { leave() }
        if let producer, producer.inFlight > 0 { _ = producer.drain(timeoutMs: 10_000) { _ in } }
        if settings.exactlyOnce {
            log.info("exactly-once: \(report.transactionsCommitted) transactions committed, \(report.transactionsAborted) aborted, \(report.fencedPartitions) partitions fenced")
        }
        log.info("stopped after \(report.processed) records (\(out.deadLetters) dead letters); waited for records \(idleMs) ms in \(waits) waits, \(emptyPolls) empty polls")
        return 0
    }

    /// Carries out what the session decided.
    func execute(_ directives: [WorkerSession.Directive]) {
        for d in directives {
            switch d {
            case .sendHello: sendHello()
            case .warnUnanswered(let s):
                log.warning("no answer from the coordinator at \(options.coordinator) for \(s) s: is it running and reachable? is another worker already using the id '\(options.workerId)'?")
            case .stopAll(.noHeartbeatSent(let ms)):
                log.warning("no heartbeat sent for \(ms) ms (lease \(session.leaseMs) ms): this worker was stopped or starved, and its partitions may belong to others now; stopping all partitions")
                stopAll(ack: false)
            case .stopAll(.coordinatorSilent(let ms)):
                log.warning("no word from the coordinator for \(ms) ms (lease \(session.leaseMs) ms): stopping all partitions")
                stopAll(ack: false)
            case .heartbeat: sendHeartbeat(now: Clock.nowMs())
            case .sync: sendDelta()
            }
        }
    }

    func heartbeatIfDue(now: Int64) {
        if session.heartbeatDue(now: now) { sendHeartbeat(now: now) }
    }

    /// A heartbeat with the events/s of the period it closes.
    func sendHeartbeat(now: Int64) {
        metricsServer?.sweep()
        let elapsed = max(1, now - rateWindowStart)
        report.eventsPerSecond = Double(report.processed - rateWindowCount) * 1000 / Double(elapsed)
        rateWindowStart = now
        rateWindowCount = report.processed
        send(.heartbeat(currentReport()))
    }

    func sendDelta() {
        guard let m = models, var d = session.makeDelta(parameters: m.parameters, scalerMoments: m.scalerMoments,
                                                         worker: options.workerId, now: Clock.nowMs()) else { return }
        if let fault = options.deltaFault {
            log.warning("fault injection: model delta \(d.seq) poisoned (\(fault.poison(&d)))")
        }
        send(.modelDelta(d))
    }

    // MARK: control plane

    /// Says goodbye and waits (≤ 2 s) for the coordinator's `left`, so the socket is not
    /// closed while `revoked`/`leaving` are still in flight.
    func leave() {
        for attempt in 0..<2 {
            send(.leaving(Leaving(workerId: options.workerId)))
            let deadline = Clock.nowMs() + 1000
            while Clock.nowMs() < deadline {
                guard zmqPollReadable([dealer], timeoutMs: 100)[0], let frames = try? dealer.receive(dontWait: true) else { continue }
                if case .left? = try? WireCodec.decode(frames[...]) {
                    log.info("the coordinator acknowledged our leaving")
                    return
                }
            }
            if attempt == 0 { log.warning("no acknowledgement of leaving yet; asking again") }
        }
        log.warning("the coordinator did not acknowledge our leaving; it will notice after its failure timeout")
    }

    func sendHello() {
        let held = parts.values.map(\.lease).sorted { $0.partition < $1.partition }
        send(.hello(Hello(workerId: options.workerId, host: options.host, pid: getpid(), held: held)))
    }

    func send(_ m: WireMessage) {
        do { try dealer.send(WireCodec.encode(m), dontWait: true) } catch {
            log.debug("send \(m.typeName) failed: \(error)")
        }
    }

    func handleControl(_ frames: [[UInt8]]) {
        let msg: WireMessage
        do { msg = try WireCodec.decode(frames[...]) } catch {
            log.warning("dropped a message from the coordinator: \(error)")
            return
        }
        session.heard(now: Clock.nowMs())
        switch msg {
        case .welcome(let w):
            do { try adopt(w) } catch {
                log.error("cannot start Kafka clients for \(w.bootstrap): \(error)")
                session.welcomeFailed()
            }
        case .assign(let a): start(a.partitions)
        case .revoke(let a): stop(a.partitions.map(\.partition), ack: true)
        case .ping: break
        case .modelUpdate(let u): adopt(u)
        case .reregister(let r):
            let d = session.reregister()
            if !d.isEmpty { log.info("coordinator asks to register again (\(r.reason)); holding \(parts.count) partitions") }
            execute(d)
        default:
            log.debug("ignored \(msg.typeName)")
        }
    }

    /// A new global version (see `ModelSet.adopt`), between two records, so every record is
    /// scored by exactly one champion.
    func adopt(_ u: ModelUpdate) {
        guard models != nil, let config else { return }
        do throws(ModelAdoptError) {
            for note in try models!.adopt(u, features: config.features, session: &session, worker: options.workerId) { log.info("\(note)") }
        } catch {
            log.warning("ignored model version \(u.version): \(error)")
            return
        }
        report.modelVersion = u.version
        modelAdoptedAt = Clock.nowMs()
    }

    func adopt(_ w: Welcome) throws {
        // The cluster's logging settings, unless this worker's flags set them.
        log.logLevel = Logger.Level(rawValue: options.logLevel ?? w.config.cluster.logLevel) ?? .info
        Log.format = LogFormat(rawValue: options.logFormat ?? w.config.cluster.logFormat) ?? .text
        let syncMs = Int64(w.config.model.syncIntervalMs)
        defer { session.welcome(heartbeatMs: Int64(w.heartbeatMs), leaseMs: Int64(w.leaseMs), syncMs: syncMs) }
        // Only what the data path uses decides whether the Kafka clients must restart (a
        // restarted coordinator may listen elsewhere; that changes nothing here).
        if consumer != nil, w.bootstrap == bootstrap, let c = config, c.kafka == w.config.kafka,
           c.features == w.config.features, c.model == w.config.model, c.worker == w.config.worker {
            config = w.config
            return
        }
        if consumer != nil {
            log.warning("cluster changed (bootstrap \(bootstrap) -> \(w.bootstrap)); restarting Kafka clients")
            stopAll(ack: false)
            draining.removeAll()
        }
        let clients = WorkerKafkaSettings(w.config.kafka, bootstrap: w.bootstrap)
        consumer = try KafkaConsumer(config: clients.consumer, batchSize: w.config.worker.batchSize)
        producer = try KafkaProducer(config: clients.producer)
        consumerConfig = clients.consumer
        producerConfig = clients.producer
        restorer = nil
        lookup = nil
        let m = w.config.model
        let p = FeaturePipeline(spec: w.config.features, labelClasses: m.type == .softmaxRegression ? m.classes : [])
        runner = RecordRunner(pipeline: p)
        settings = PartitionLifecycle.Settings(stateful: p.spec.isStateful, exactlyOnce: w.config.kafka.guarantee == .exactlyOnce)
        var set = ModelSet(layout: w.layout ?? w.config.layout, features: w.config.features)
        // Start from the cluster's global model (the scaler stays local: see ARCHITECTURE.md).
        if w.modelVersion > 0 && w.modelParameters.count == set.geometry.parameterCount {
            set.setParameters(w.modelParameters)
        }
        // Synced: the weights, then the scaler's raw moments (summed cluster-wide).
        session.resetSync(version: w.modelVersion, base: set.parameters + set.scalerMoments)
        report.modelVersion = w.modelVersion
        modelAdoptedAt = Clock.nowMs()
        models = set
        if evaluation?.report.whole.task != m.type.task { evaluation = m.makeEvaluation() }
        config = w.config
        bootstrap = w.bootstrap
        log.info("registered; Kafka at \(w.bootstrap), input \(w.config.kafka.inputTopic), \(p.width) features")
    }

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
        r.shadowPredictions = out.shadowPredictions
        r.shadowFailed = out.shadowFailed
        r.models = models?.reports ?? []
        r.modelAgeMs = Clock.nowMs() - modelAdoptedAt
        if let c = runner?.counters {
            r.badValues = c.badValues.mapValues { Int64($0) }
            r.lateDropped = Int64(c.lateDropped)
            r.expiredKeys = Int64(c.expiredKeys)
        }
        let topic = config?.kafka.inputTopic ?? ""
        r.partitions = parts.values.sorted { $0.life.partition < $1.life.partition }.map { run in
            run.report(watermarks: consumer?.cachedWatermarks(TopicPartition(topic, run.life.partition)))
        }
        return r
    }
}
