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

/// How `--inject-delta-fault` poisons a worker's model deltas.
public enum DeltaFault: String, Sendable, CaseIterable {
    /// A NaN in the parameters.
    case nan
    /// Parameters × 1e6, samples × 1000, scaler sums × 1e6.
    case huge
    /// nan and huge by turns.
    case mixed
}

public struct WorkerOptions: Sendable {
    public var coordinator: String
    public var workerId: String
    public var host: String
    /// Prometheus endpoint "HOST:PORT", nil = off.
    public var metricsBind: String?
    /// Fault injection for tests of robust averaging: every model delta this worker sends is
    /// poisoned this way (its own model and predictions are not).
    public var deltaFault: DeltaFault?
    /// Override the cluster's `log_level` / `log_format` for this worker.
    public var logLevel: String?
    public var logFormat: String?
    /// The coordinator's CURVE key and ours, when it runs with `[security] curve = true`.
    public var curve: CurveClient?
    public init(coordinator: String, workerId: String? = nil) {
        self.coordinator = coordinator
        host = ProcessInfo.processInfo.hostName
        self.workerId = workerId ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }
}

/// One input partition this worker runs: its lease, offsets and per-key feature state.
/// A class on purpose: the hot path mutates it in place (a struct copied out of the
/// dictionary and written back made every record copy the tracker's and the state's
/// buffers). Owned by the worker's single thread.
final class PartitionRun {
    var lease: PartitionLease
    var tracker = OffsetTracker()
    var state: PartitionState
    var processed: Int64 = 0
    /// Next offset to read (last seen + 1), -1 until the first record.
    var position: Int64 = -1
    var committed: Int64 = -1
    // Feature-state changelog (stateful specs only). Invariant: the changelog's newest
    // complete capture covers exactly the input offsets below `durable`, and every output
    // below it is delivered; commits never pass it. So whoever resumes the partition from
    // the changelog recomputes the very features an uninterrupted run would have.
    var durable: Int64 = -1
    /// A capture taken at `offset`, waiting until every output below it is delivered.
    var capture: (offset: Int64, records: [Changelog.Record])? = nil
    var changelogInFlight = 0
    var changelogFailed = false
    var inFlightOffset: Int64 = -1
    var restoreMs: Int64 = 0
    var restoredKeys = 0
    /// Tells results of work done off the loop (restore, committed lookup) for this run from
    /// those for an earlier run of the same partition (revoked, then assigned again).
    var token = 0
    /// While the feature state is restored off the loop; the partition is assigned to the
    /// consumer once it is done.
    var restoring = false
    var restoreStarted: Int64 = 0
    /// Records of this partition not keyed by their key field (warned about once).
    var keyMismatches: Int64 = 0
    /// Exactly-once only: this partition's transactional producer, and whether a
    /// transaction is open on it (begun at the first output after a commit).
    var txn: KafkaProducer?
    var txnOpen = false

    init(lease: PartitionLease, state: PartitionState, committed: Int64 = -1) {
        self.lease = lease
        self.state = state
        self.committed = committed
    }
}

/// The worker's I/O shell. One thread runs everything: the DEALER to the coordinator, the
/// Kafka consumer (partitions chosen by the coordinator) and producer. Per record:
/// parse -> features -> predict -> learn (if labelled) -> produce prediction; bad records
/// become dead letters with the reason. Offsets are committed only after the record's
/// output is delivered (at-least-once).
public final class WorkerService {
    let options: WorkerOptions
    var log: Logger
    let context = ZmqContext()
    let dealer: ZmqSocket
    let metricsServer: MetricsServer?

    // Set by the coordinator's welcome.
    var config: ClusterConfig?
    var bootstrap = ""
    var heartbeatMs: Int64 = 500
    var leaseMs: Int64 = 2000
    var consumer: KafkaConsumer?
    var producer: KafkaProducer?
    var pipeline: FeaturePipeline?
    /// The champion and any challengers (issue 11), one parameter vector for syncing.
    var models: ModelSet?
    /// Reads feature-state changelogs when a partition starts (stateful specs), off the loop.
    var restorer: ChangelogRestorer?
    var runTokens = 0
    /// Looks up committed offsets off the loop (status only).
    var lookup: CommittedLookup?
    var consumerConfig = KafkaClientConfig()
    /// The shared producer's settings; exactly-once partition producers add their id to them.
    var producerConfig = KafkaClientConfig()
    var stateful = false
    var counters = FeatureCounters()
    var sparse = SparseVector()

    var parts: [Int32: PartitionRun] = [:]
    var event = ParsedEvent(slotsPlaceholder: ())
    var features: [Double] = []
    var writer = OutputWriter()
    var report: WorkerReport
    /// Progressive validation; made at the first welcome and kept across re-registrations.
    var evaluation: Evaluation?
    var lastHeardMs: Int64 = 0
    var lastHeartbeatAt: Int64 = 0
    /// Events/s over the last heartbeat period: where the window started and the count then.
    var rateWindowStart = Clock.nowMs()
    var rateWindowCount: Int64 = 0
    var welcomed = false
    var sync = SyncState()
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
    }

    // MARK: loop

    /// Runs until `shouldStop()`; then hands back every partition (delivered, committed)
    /// and tells the coordinator it leaves. Returns the process exit code.
    public func run(shouldStop: () -> Bool) -> Int32 {
        log.info("connecting to coordinator \(options.coordinator)")
        var lastHello: Int64 = 0
        var lastCommit: Int64 = 0
        var lastSync = Clock.nowMs()
        var pendingSince: Int64 = 0
        var mayHaveMore = false
        var unansweredSince: Int64 = 0
        var lastUnansweredWarning: Int64 = 0
        while !shouldStop() {
            // One wait for everything: a control message, records (librdkafka's queue
            // wake-up fd), delivery reports, or the next tick. Never blocks while records
            // may be waiting.
            // Transactional producers are not waited on: they report no deliveries, and their
            // errors are read by every `serveDeliveries`.
            let kafkaFds = [consumer?.wakeupFD() ?? -1, producer?.wakeupFD() ?? -1].filter { $0 >= 0 }
            let fds = kafkaFds + (metricsServer?.fds ?? [])
            let waitStart = mayHaveMore ? 0 : Clock.nowMs()
            let ready = zmqPollReadable([dealer], fds: fds, timeoutMs: mayHaveMore ? 0 : (parts.isEmpty ? 50 : 10))
            if !mayHaveMore && !parts.isEmpty { idleMs += Clock.nowMs() - waitStart; waits += 1 }
            consumer?.clearWakeup()
            producer?.clearWakeup()
            if let m = metricsServer, ready.fds[kafkaFds.count...].contains(true) {
                // Ready: registered, and every partition held is running (none restoring).
                m.serve(ready: welcomed && !parts.values.contains { $0.restoring }) { prometheus() }
            }
            let now = Clock.nowMs()
            // Away longer than the lease without a heartbeat (the process was stopped or
            // starved): the coordinator may have declared us dead and given our partitions
            // away. Checked before reading what queued meanwhile, because any queued message
            // would make the silence check below look satisfied. A long changelog restore
            // sends heartbeats as it goes, so it does not count as away.
            if welcomed && !parts.isEmpty && lastHeartbeatAt > 0 && now - lastHeartbeatAt > leaseMs {
                log.warning("no heartbeat sent for \(now - lastHeartbeatAt) ms (lease \(leaseMs) ms): this worker was stopped or starved, and its partitions may belong to others now; stopping all partitions")
                stop(partitions: Array(parts.keys), ack: false)
                welcomed = false
            }
            // Control plane first: assignments and revokes take effect before more data.
            if ready.sockets[0] {
                while let frames = try? dealer.receive(dontWait: true) {
                    handleControl(frames)
                }
            }
            if !welcomed && now - lastHello >= 1000 {
                lastHello = now
                sendHello()
                if unansweredSince == 0 { unansweredSince = now }
                if now - unansweredSince >= 5000 && now - lastUnansweredWarning >= 10_000 {
                    lastUnansweredWarning = now
                    log.warning("no answer from the coordinator at \(options.coordinator) for \((now - unansweredSince) / 1000) s: is it running and reachable? is another worker already using the id '\(options.workerId)'?")
                }
            } else if welcomed {
                unansweredSince = 0
            }
            // The lease runs whether or not we are registered: partitions held while the
            // coordinator is silent must stop on time (it may have given them away).
            if now - lastHeardMs > leaseMs && (welcomed || !parts.isEmpty) {
                if !parts.isEmpty {
                    log.warning("no word from the coordinator for \(now - lastHeardMs) ms (lease \(leaseMs) ms): stopping all partitions")
                    stop(partitions: Array(parts.keys), ack: false)
                }
                welcomed = false
            }
            collectRestores()
            collectCommitted()
            heartbeatIfDue(now: now)
            let syncMs = Int64(config?.model.syncIntervalMs ?? 0)
            if welcomed && syncMs > 0 && now - lastSync >= syncMs, let m = models {
                lastSync = now
                // A delta never merged (coordinator restarted, delta rejected) is abandoned
                // after 5 intervals; its progress is still in `local − base`, so none is lost.
                if sync.pending != nil && now - pendingSince > 5 * syncMs { sync.abandonPending() }
                if var d = sync.makeDelta(current: m.parameters + m.scalerMoments, worker: options.workerId) {
                    let p = m.geometry.parameterCount
                    d.scaler = Array(d.delta[p...])
                    d.delta = Array(d.delta[..<p])
                    if let fault = options.deltaFault { poison(&d, fault) }
                    pendingSince = now
                    send(.modelDelta(d))
                }
            }
            // Data plane.
            serveDeliveries(timeoutMs: 0)
            mayHaveMore = false
            if let consumer, !parts.isEmpty {
                if inFlight >= (config?.worker.maxInFlight ?? 50_000) {
                    // Backpressure: read nothing until deliveries catch up (their reports
                    // wake the wait above).
                } else {
                    // A few batches, then round the loop again so control messages and
                    // heartbeats stay timely under full load. Bounded by time as well as by
                    // count: a slow CPU (a sanitizer build is 5-15x slower) must not stretch
                    // one turn past a heartbeat period.
                    let turnBudget = max(5, heartbeatMs / 4)
                    for _ in 0..<8 {
                        let before = report.firstRecordWallMs == 0 ? Clock.wallMs() : 0
                        let n = consumer.poll(timeoutMs: 0, onError: { kafkaTrouble("consumer", $0) }) { rec in
                            process(rec)
                        }
                        serveDeliveries(timeoutMs: 0)
                        if n == 0 { emptyPolls += 1; break }
                        mayHaveMore = true
                        let wall = Clock.wallMs()
                        if report.firstRecordWallMs == 0 { report.firstRecordWallMs = before }
                        report.lastRecordWallMs = wall
                        let t = Clock.nowMs()
                        heartbeatIfDue(now: t)
                        if t - now >= turnBudget { break }
                    }
                }
                if now - lastCommit >= Int64(config?.worker.commitIntervalMs ?? 200) {
                    lastCommit = now
                    if exactlyOnce {
                        commitTransactions(Array(parts.keys))
                    } else {
                        if stateful { for (p, run) in parts { checkpoint(p, run) } }
                        // Asynchronous: a slow or absent broker must not stall heartbeats. A lost
                        // commit is covered by the next one (at-least-once either way).
                        commit(Array(parts.keys), async: true)
                    }
                }
            }
        }
        log.info("stopping: handing back \(parts.count) partitions")
        stop(partitions: Array(parts.keys), ack: true)
        if welcomed { leave() }
        if let producer, producer.inFlight > 0 {
            _ = producer.drain(timeoutMs: 10_000) { _ in }
        }
        if exactlyOnce {
            log.info("exactly-once: \(report.transactionsCommitted) transactions committed, \(report.transactionsAborted) aborted, \(report.fencedPartitions) partitions fenced")
        }
        log.info("stopped after \(report.processed) records (\(report.deadLetters) dead letters); waited for records \(idleMs) ms in \(waits) waits, \(emptyPolls) empty polls")
        return 0
    }

    /// Sends a heartbeat (with the events/s of the period it closes) once per heartbeat_ms.
    func heartbeatIfDue(now: Int64) {
        guard welcomed && now - lastHeartbeatAt >= heartbeatMs else { return }
        lastHeartbeatAt = now
        metricsServer?.sweep()
        let elapsed = max(1, now - rateWindowStart)
        report.eventsPerSecond = Double(report.processed - rateWindowCount) * 1000 / Double(elapsed)
        rateWindowStart = now
        rateWindowCount = report.processed
        send(.heartbeat(currentReport()))
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
        lastHeardMs = Clock.nowMs()
        switch msg {
        case .welcome(let w):
            do { try adopt(w) } catch {
                log.error("cannot start Kafka clients for \(w.bootstrap): \(error)")
                return
            }
            welcomed = true
        case .assign(let a): start(a.partitions)
        case .revoke(let a): stop(partitions: a.partitions.map(\.partition), ack: true)
        case .ping: break
        case .modelUpdate(let u):
            adopt(u)
        case .reregister(let r):
            // Several may arrive at once (one per queued heartbeat): answer the first; the
            // hello loop repeats it until a welcome arrives.
            guard welcomed else { break }
            log.info("coordinator asks to register again (\(r.reason)); holding \(parts.count) partitions")
            welcomed = false
            sendHello()
        default:
            log.debug("ignored \(msg.typeName)")
        }
    }

    /// A new global version: rebase local progress on it (or take it exactly: reset, or a
    /// different set of models), then switch champion or A/B shares if its layout says so.
    /// Between two records, so every record is scored by exactly one champion.
    func adopt(_ u: ModelUpdate) {
        guard var m = models, let config else { return }
        let relayout = u.layout.map { !$0.sameModels(as: m.layout) } ?? false
        if let l = u.layout, relayout {
            if let why = l.problem(with: config.features) {
                log.error("ignored model version \(u.version): its models cannot run here: \(why)")
                return
            }
            m = ModelSet(layout: l, features: config.features, previous: m)
            // The cluster's scaler for every model: a deployed model may come warm (replay),
            // its weights fitted to inputs scaled by those moments.
            if u.scaler.count == 3 * m.geometry.scalerWidth { m.setScalerMoments(u.scaler) }
        }
        guard u.parameters.count == m.geometry.parameterCount else {
            log.warning("ignored model version \(u.version): \(u.parameters.count) parameters, the models here have \(m.geometry.parameterCount)")
            return
        }
        let moments = m.scalerMoments
        if u.reset || relayout {
            // Import, rollback, deploy, retire: take the global model exactly, drop local
            // progress (a rollback that kept it would keep what was rolled back).
            m.setParameters(u.parameters)
            sync = SyncState(version: u.version, base: u.parameters + moments)
            log.info("global model reset to version \(u.version)\(relayout ? "; models now \(m.layout.models.map(\.name))" : "")")
        } else {
            // The scaler rebases like the weights (its moments add up); a version without
            // scaler moments leaves ours as they are.
            var extended = u
            extended.parameters = u.parameters
                + (u.scaler.count == moments.count ? u.scaler : Array(sync.base.suffix(moments.count)))
            let local = sync.rebase(current: m.parameters + moments, onto: extended, me: options.workerId)
            let p = m.geometry.parameterCount
            m.setParameters(Array(local[..<p]))
            if !moments.isEmpty { m.setScalerMoments(Array(local[p...])) }
        }
        if let l = u.layout, l != m.layout {
            let before = m.layout.champion
            m.adopt(champion: l)
            if before != m.layout.champion {
                log.info("model \(m.layout.champion) is the champion from version \(u.version) on (was \(before))")
            }
        }
        models = m
        report.modelVersion = u.version
        modelAdoptedAt = Clock.nowMs()
    }

    func adopt(_ w: Welcome) throws {
        heartbeatMs = Int64(w.heartbeatMs)
        leaseMs = Int64(w.leaseMs)
        // The cluster's logging settings, unless this worker's flags set them.
        log.logLevel = Logger.Level(rawValue: options.logLevel ?? w.config.cluster.logLevel) ?? .info
        Log.format = LogFormat(rawValue: options.logFormat ?? w.config.cluster.logFormat) ?? .text
        // Only what the data path uses decides whether the Kafka clients must restart (a
        // restarted coordinator may listen elsewhere; that changes nothing here).
        if consumer != nil, w.bootstrap == bootstrap, let c = config, c.kafka == w.config.kafka,
           c.features == w.config.features, c.model == w.config.model, c.worker == w.config.worker {
            config = w.config
            return
        }
        if consumer != nil {
            log.warning("cluster changed (bootstrap \(bootstrap) -> \(w.bootstrap)); restarting Kafka clients")
            stop(partitions: Array(parts.keys), ack: false)
        }
        let k = w.config.kafka
        var common = KafkaClientConfig(k.client)
        common["bootstrap.servers"] = w.bootstrap
        var cc = common
        if k.isEmbedded && cc["fetch.wait.max.ms"] == nil && k.consumer["fetch.wait.max.ms"] == nil {
            // The mock broker answers fetches slowly with librdkafka's default (500 ms).
            cc["fetch.wait.max.ms"] = "5"
        }
        cc["group.id"] = k.groupId
        for (key, v) in k.consumer { cc[key] = v }
        var pc = common
        // Larger batches: on the embedded broker produce throughput rises ~50 % from 5 to
        // 20 ms (measured by `tributary bench`); the latency cost is bounded by it.
        if pc["linger.ms"] == nil && k.producer["linger.ms"] == nil { pc["linger.ms"] = "20" }
        for (key, v) in k.producer { pc[key] = v }
        consumer = try KafkaConsumer(config: cc, batchSize: w.config.worker.batchSize)
        producer = try KafkaProducer(config: pc)
        consumerConfig = cc
        producerConfig = pc
        restorer = nil
        lookup = nil
        let m = w.config.model
        let p = FeaturePipeline(spec: w.config.features, labelClasses: m.type == .softmaxRegression ? m.classes : [])
        pipeline = p
        stateful = p.spec.isStateful
        event = p.parser.makeEvent()
        features = .init(repeating: 0, count: p.denseWidth)
        var set = ModelSet(layout: w.layout ?? w.config.layout, features: w.config.features)
        // Start from the cluster's global model (the scaler stays local: see ARCHITECTURE.md).
        if w.modelVersion > 0 && w.modelParameters.count == set.geometry.parameterCount {
            set.setParameters(w.modelParameters)
        }
        // Synced: the weights, then the scaler's raw moments (summed cluster-wide).
        sync = SyncState(version: w.modelVersion, base: set.parameters + set.scalerMoments)
        report.modelVersion = w.modelVersion
        modelAdoptedAt = Clock.nowMs()
        models = set
        if evaluation?.report.whole.task != m.type.task { evaluation = m.makeEvaluation() }
        config = w.config
        bootstrap = w.bootstrap
        log.info("registered; Kafka at \(w.bootstrap), input \(k.inputTopic), \(p.width) features")
    }

    func start(_ leases: [PartitionLease]) {
        guard consumer != nil, let pipeline else { return }
        for l in leases {
            if let run = parts[l.partition] {
                if l.epoch > run.lease.epoch { run.lease = l }
                continue
            }
            let run = PartitionRun(lease: l, state: pipeline.makeState())
            // Exactly-once: fence the previous owner before reading where it stopped.
            if exactlyOnce && !openTransactions(run) { continue }
            parts[l.partition] = run
            begin(run)
        }
    }

    /// Hands a started run to the consumer: at `next` (where its restored feature state
    /// ends), or at the group's committed offset.
    func assign(_ run: PartitionRun, at next: Int64?) {
        guard let consumer, let topic = config?.kafka.inputTopic else { return }
        let p = run.lease.partition
        let tp = TopicPartition(topic, p)
        if let next {
            if exactlyOnce, let committed = try? consumer.committed([tp], timeoutMs: 5000)[tp] {
                run.committed = max(committed, -1)
                if next > max(committed, 0) {
                    // In exactly-once mode the capture and the input offset commit
                    // together, so a capture ahead of the committed offset belongs to a
                    // transaction that did not commit: the broker showed it to a
                    // read_committed reader (Tansu 0.6 does). Its state is consistent with
                    // resuming after it, but its predictions were aborted; said, not silent.
                    log.error("partition \(p): the feature changelog is ahead of the committed input offset (\(max(committed, 0)) < \(next)): the broker showed this reader a transaction that did not commit (read_committed not honoured); the predictions for offsets \(max(committed, 0))..<\(next) of partition \(p) were aborted and are not replayed")
                }
            }
            // At-least-once: the capture was written after every output below it was
            // delivered, so `next` is committable now. Without this a partition restored
            // at the end of its input would show its old commit (and lag) until a new
            // record came. (Exactly-once commits offsets in its transactions instead.)
            if !exactlyOnce { run.tracker = OffsetTracker(resumingAt: next) }
        }
        do {
            try consumer.assign([tp], start: next.map(StartOffset.offset) ?? .committed)
            if next == nil {
                if lookup == nil { lookup = CommittedLookup(consumer: consumer) }
                lookup!.submit(TopicPartition(topic, p), token: run.token)
            }
            log.info("started partition \(p)@\(run.lease.epoch) at \(next.map { "its feature checkpoint \($0)" } ?? "its committed offset")")
        } catch {
            log.error("cannot start partition \(p): \(error)")
            parts[p] = nil
        }
    }

    /// Committed offsets looked up off the loop: where partitions started at their commit
    /// resume, so status shows true commit and lag before the first record.
    func collectCommitted() {
        guard let lookup else { return }
        for (p, token, offset) in lookup.takeFinished() {
            guard let run = parts[p], run.token == token, offset >= 0 else { continue }
            run.committed = max(run.committed, offset)
        }
    }

    /// Stops partitions: no more reads, wait for their outputs to be delivered, commit,
    /// forget their state, and (ack) tell the coordinator they are free.
    func stop(partitions ps: [Int32], ack: Bool) {
        guard !ps.isEmpty else { return }
        let mine = ps.filter { parts[$0] != nil }
        if let consumer, let topic = config?.kafka.inputTopic {
            // A partition still restoring was never assigned (unassigning it would fail the
            // whole call).
            try? consumer.unassign(mine.filter { parts[$0]?.restoring == false }.map { TopicPartition(topic, $0) })
        }
        if exactlyOnce {
            // Everything read so far, its outputs and its state, commits as one; if that
            // fails, the next owner replays from the last committed transaction.
            commitTransactions(mine, replayOnFailure: false)
        } else {
            let deadline = Clock.nowMs() + 10_000
            // Heartbeats go on while outputs drain: a slow broker must not get us declared dead.
            while mine.contains(where: { (parts[$0]?.tracker.pending ?? 0) > 0 }) && Clock.nowMs() < deadline {
                serveDeliveries(timeoutMs: 20)
                heartbeatIfDue(now: Clock.nowMs())
            }
            // The feature state up to the last record read goes to the changelog before the
            // final commit, so the next owner continues exactly here.
            while mine.contains(where: { parts[$0].map(needsCheckpoint) ?? false }) && Clock.nowMs() < deadline {
                for p in mine { if let run = parts[p] { checkpoint(p, run) } }
                serveDeliveries(timeoutMs: 20)
                heartbeatIfDue(now: Clock.nowMs())
            }
            commit(mine)
        }
        var released: [PartitionLease] = []
        var offsets: [Int64] = []
        for p in mine {
            // Gone meanwhile (fenced): acknowledged below like a partition we never held.
            guard let run = parts.removeValue(forKey: p) else { continue }
            if run.tracker.pending > 0 {
                log.warning("partition \(p): \(run.tracker.pending) outputs undelivered at stop; they will be replayed by the next owner")
            }
            released.append(run.lease)
            offsets.append(run.committed)
        }
        if !mine.isEmpty { log.info("stopped partitions \(mine.sorted())") }
        if ack {
            // Acknowledge even partitions we did not hold, so the coordinator never waits on us.
            for p in ps where !released.contains(where: { $0.partition == p }) {
                released.append(PartitionLease(partition: p, epoch: 0))
                offsets.append(-1)
            }
            send(.revoked(Revoked(workerId: options.workerId, partitions: released, committed: offsets)))
        }
    }

    func commit(_ ps: [Int32], async: Bool = false) {
        guard let consumer, let topic = config?.kafka.inputTopic else { return }
        var offsets: [TopicPartition: Int64] = [:]
        for p in ps {
            guard let run = parts[p], var c = run.tracker.committable else { continue }
            if stateful { c = min(c, run.durable) }
            guard c > run.committed else { continue }
            offsets[TopicPartition(topic, p)] = c
        }
        guard !offsets.isEmpty else { return }
        do {
            try consumer.commit(offsets, async: async)
            for (tp, o) in offsets { parts[tp.partition]?.committed = o }
        } catch {
            kafkaTrouble("commit (retried at the next interval)", error)
        }
    }

    // MARK: data plane

    func process(_ rec: borrowing ConsumedRecord) {
        let p = rec.partition
        // A record fetched before a revoke took effect: leave it to the next owner.
        guard let run = parts[p], let config, let producer = output(for: run) else { return }
        // A jump past the next offset this run expects means records were never read. Only
        // records seen in this run count: a looked-up commit can trail asynchronous commits
        // still landing, and librdkafka resumes from the newer one.
        let expected = run.position
        let offset = rec.offset
        if expected >= 0 && offset > expected {
            report.skippedOffsets += offset - expected
            log.warning("partition \(p): offsets \(expected)..<\(offset) were never read (deleted by the broker before this worker reached them, or compacted away)")
        }
        run.position = rec.offset + 1
        run.processed += 1
        report.processed += 1
        let tag = Int(rec.offset) << 20 | Int(p)
        let outcome: FeatureOutcome
        do {
            try pipeline!.parser.parse(rec.value, into: &event)
            pipeline!.applyKafkaTimestamp(rec.timestampMs, to: &event)
            let kafkaKey = rec.key
            let keyed = event.key.utf8.withContiguousStorageIfAvailable { k in
                k.count == kafkaKey.count && (k.count == 0 || memcmp(k.baseAddress!, kafkaKey.baseAddress!, k.count) == 0)
            } ?? event.key.utf8.elementsEqual(kafkaKey)
            if !keyed { keyMismatch(run, kafkaKey) }
            outcome = try pipeline!.features(of: event, state: &run.state, counters: &counters,
                                             dense: &features, sparse: &sparse)
        } catch {
            deadLetter(rec, run, reason: error.reason, error: error.description, tag: tag)
            return
        }
        if case .late(let toDeadLetters) = outcome {
            if toDeadLetters {
                deadLetter(rec, run, reason: "late", error: "event time \(event.timestamp ?? 0) is behind the partition's watermark (stream time \(run.state.streamTime) minus allowed lateness)", tag: tag)
            } else {
                // Counted, not scored: nothing to deliver, so the offset is done at once.
                run.tracker.produced(rec.offset)
                run.tracker.delivered(rec.offset)
            }
            return
        }
        models!.score(features, sparse: SparseInput(indices: sparse.indices, values: sparse.values), label: event.label)
        // The output topic gets the champion's prediction, or an A/B challenger's for its keys.
        let served = models!.route(key: event.key)
        pipeline!.learnTargets(of: event, state: &run.state)
        if let y = event.label {
            if evaluation!.observe(models!.observation(of: served, label: y)) {
                report.lastDriftWallMs = Clock.wallMs()
                let e = evaluation!.report
                log.warning("drift detected in the running loss after \(e.whole.count) labelled predictions (Page-Hinkley > \(e.driftThreshold)); recent \(e.window.figures.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))")
            }
            models!.observeAll(label: y)
            report.labelled += 1
            if models!.learns { sync.samples += 1 }
        }
        if let error = emit(model: served, partition: p, offset: rec.offset, run: run, producer: producer,
                            topic: config.kafka.outputTopic, tag: tag, features: pipeline!.spec.emit ? features : nil) {
            // A failed transaction aborts and replays this record (`transactionFailed`).
            if run.txn === producer { return }
            // The prediction can never be queued (too large for message.max.bytes, or its
            // topic is unknown): the input goes to the dead letters with the reason instead.
            deadLetter(rec, run, reason: "undeliverable-prediction", error: "the prediction could not be produced to \(config.kafka.outputTopic): \(error)", tag: tag)
            return
        }
        models!.countServed(served)
        if models!.models.count > 1 && !config.lifecycle.shadowTopic.isEmpty {
            // Shadow scoring: every other model's prediction of this record, same shape.
            for i in models!.models.indices where i != served {
                if let error = emit(model: i, partition: p, offset: rec.offset, run: run, producer: producer,
                                    topic: config.lifecycle.shadowTopic, tag: Self.shadowTag, features: nil) {
                    shadowFailed(error)
                } else {
                    report.shadowPredictions += 1
                }
            }
        }
        report.predictions += 1
        run.tracker.produced(rec.offset)
        if rec.timestampMs > 0 { recordLatency.recordMilliseconds(max(0, Clock.wallMs() - rec.timestampMs)) }
    }

    /// A record whose Kafka key is not its key field's value: per-key state assumes the
    /// producer partitioned by that key, so this key's state may live in several partitions.
    /// Counted in status; said once per partition.
    func keyMismatch(_ run: PartitionRun, _ key: UnsafeRawBufferPointer) {
        run.keyMismatches += 1
        report.keyMismatches += 1
        guard run.keyMismatches == 1, let field = pipeline?.spec.key else { return }
        let kafkaKey = key.count == 0 ? "a null key" : "key '\(String(decoding: key.prefix(64), as: UTF8.self))'"
        log.warning("partition \(run.lease.partition): a record has \(kafkaKey) but \(field) '\(event.key.prefix(64))': input not keyed by features.key splits per-key state across partitions; produce records keyed by \(field) (said once per partition; status counts them)")
    }

    /// Model `i`'s prediction of the event `process` just scored, to `topic`: the output
    /// topic (delivery tracked by `tag`) or the shadow topic. One record shape for both.
    /// Returns the error when the record can never be queued (see `produceRetrying`).
    func emit(model i: Int, partition p: Int32, offset: Int64, run: PartitionRun, producer: KafkaProducer,
              topic: String, tag: Int, features dense: [Double]?) -> KafkaError? {
        // Not `let set = models`: a copy of the whole set per record would retain every buffer in it.
        guard let config, models != nil else { return nil }
        let m = models!.models[i]
        writer.prediction(partition: p, offset: offset, key: event.key, score: m.score, label: event.label,
                          model: models!.layout.models[i].name, modelVersion: report.modelVersion, worker: options.workerId,
                          epoch: run.lease.epoch, timestamp: event.timestamp, features: dense,
                          classes: m.model.kind == .softmaxRegression ? config.model.classes : nil,
                          predicted: m.predictedClass, probabilities: m.output)
        return writer.bytes.withUnsafeBytes { v in
            event.key.withUTF8 { k in
                produceRetrying(producer, run: run, topic: topic, key: UnsafeRawBufferPointer(k), value: v, headers: [], tag: tag,
                                permanent: .giveUp)
            }
        }
    }

    /// A shadow prediction that was not delivered (or could not be queued): counted and
    /// logged, not replayed (the challenger's metrics do not depend on it).
    func shadowFailed(_ e: KafkaError) {
        report.shadowFailed += 1
        if report.shadowFailed <= 10 || report.shadowFailed % 1000 == 0 {
            log.warning("shadow prediction not delivered: \(e) (\(report.shadowFailed) so far)")
        }
    }

    func deadLetter(_ rec: borrowing ConsumedRecord, _ run: PartitionRun, reason: String, error: String, tag: Int) {
        guard let config, let producer = output(for: run) else { return }
        report.deadLetters += 1
        report.deadLettersByReason[reason, default: 0] += 1
        let headers = [("tributary.reason", reason), ("tributary.error", error),
                       ("tributary.source.topic", config.kafka.inputTopic),
                       ("tributary.source.partition", String(rec.partition)), ("tributary.source.offset", String(rec.offset)),
                       ("tributary.worker", options.workerId)]
        let dlq = config.kafka.deadLetterTopic
        if let e = produceRetrying(producer, run: run, topic: dlq, key: rec.key, value: rec.value, headers: headers, tag: tag,
                                   permanent: .giveUp), run.txn !== producer {
            // Never queued whole (an input larger than the producer's message.max.bytes): its
            // first bytes go instead, marked, so the record is still accounted for with its
            // reason. The dead-letter topic is the last resort: this one is retried.
            let size = rec.value.count, keep = min(size, Self.truncatedDeadLetterBytes)
            let (partition, offset) = (rec.partition, rec.offset)
            log.error("partition \(partition) offset \(offset): dead letter of \(size) bytes could not be produced to \(dlq) (\(e)); writing its first \(keep) bytes")
            produceRetrying(producer, run: run, topic: dlq, key: rec.key, value: UnsafeRawBufferPointer(rebasing: rec.value[..<keep]),
                            headers: headers + [("tributary.truncated", "\(size) bytes, first \(keep) kept: \(e)")], tag: tag)
        }
        run.tracker.produced(rec.offset)
    }

    /// How much of an input that is too large to dead-letter whole goes to the dead letters.
    static let truncatedDeadLetterBytes = 64 << 10

    /// What `produceRetrying` does with an error that retrying cannot fix (too large for
    /// message.max.bytes, unknown topic or partition).
    enum PermanentError {
        /// Keep trying, heartbeats going on and the error in status, until an operator
        /// fixes the cause: for records nothing else can stand in for (the dead letters).
        case retry
        /// Give the error back: the caller has a fallback (a dead letter, a new capture).
        case giveUp
    }

    /// Never drops: a full local queue is served (delivery reports) and retried. A
    /// transactional producer's other errors fail its transaction (`run`'s): retrying could
    /// never succeed there (the transaction is in an error state), and the abort replays.
    /// Other errors are handled by `permanent`. Returns nil once the record is queued, or
    /// the error it was not queued for.
    @discardableResult
    func produceRetrying(_ producer: KafkaProducer, run: PartitionRun, topic: String, partition: Int32? = nil,
                         key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, headers: [(String, String)],
                         tag: Int, permanent: PermanentError = .retry) -> KafkaError? {
        var lastLog: Int64 = 0
        while true {
            do {
                try producer.produce(topic: topic, partition: partition, key: key, value: value, headers: headers, tag: tag)
                return nil
            } catch {
                if error.isQueueFull {
                    serveDeliveries(timeoutMs: 10)
                } else if run.txn === producer {
                    transactionFailed(run, error)
                    return error
                } else if permanent == .giveUp {
                    kafkaTrouble("produce to \(topic)", error)
                    return error
                } else {
                    // Stuck until fixed, but alive: heartbeats keep the lease, status shows why.
                    kafkaTrouble("produce to \(topic)", error)
                    let now = Clock.nowMs()
                    if now - lastLog >= 10_000 {
                        lastLog = now
                        log.error("produce to \(topic) failed: \(error); retrying until it can be queued")
                    }
                    heartbeatIfDue(now: now)
                    serveDeliveries(timeoutMs: 100)
                }
            }
        }
    }

    /// The delivery tag of shadow predictions (output tags are ≥ 0, changelog tags small negatives).
    static let shadowTag = Int.min

    /// Outputs handed to librdkafka and not yet reported (the shared producer's; a
    /// transactional producer's records are bounded by its commit interval and librdkafka's queue).
    var inFlight: Int { producer?.inFlight ?? 0 }

    func serveDeliveries(timeoutMs: Int32) {
        guard let producer else { return }
        // Transactional producers report no deliveries (their commit does); only errors.
        for run in parts.values { run.txn?.poll(timeoutMs: 0, onError: { kafkaTrouble("producer", $0) }) { _ in } }
        producer.poll(timeoutMs: timeoutMs, onError: { kafkaTrouble("producer", $0) }) { dr in
            if dr.tag == Self.shadowTag {
                // Shadow predictions are not what offsets wait for.
                if let e = dr.error { shadowFailed(e) }
                return
            }
            if dr.tag < 0 {
                changelogDelivered(Int32(-dr.tag - 1), error: dr.error)
                return
            }
            let p = Int32(dr.tag & 0xFFFFF)
            let offset = Int64(dr.tag >> 20)
            if let e = dr.error {
                report.deliveryErrors += 1
                log.error("output for partition \(p) offset \(offset) not delivered: \(e); replaying the partition from its last commit")
                rewind(p)
                return
            }
            parts[p]?.tracker.delivered(offset)
        }
    }

    /// A delivery failed after librdkafka's own retries: restart the partition from its
    /// committed offset so the record is processed again (at-least-once, never lost).
    func rewind(_ p: Int32) {
        guard let run = parts[p], let consumer, let pipeline, let topic = config?.kafka.inputTopic else { return }
        try? consumer.unassign([TopicPartition(topic, p)])
        let fresh = PartitionRun(lease: run.lease, state: pipeline.makeState(), committed: run.committed)
        fresh.txn = run.txn
        parts[p] = fresh
        // The feature state must go back to where the replay starts: the changelog's.
        begin(fresh)
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

    /// `--inject-delta-fault`: what a broken or malicious worker could send.
    func poison(_ d: inout ModelDelta, _ fault: DeltaFault) {
        let nan = fault == .nan || (fault == .mixed && d.seq % 2 == 1)
        if nan {
            if !d.delta.isEmpty { d.delta[0] = .nan }
        } else {
            for i in d.delta.indices { d.delta[i] *= 1e6 }
            d.samples *= 1000
            let w = d.scaler.count / 3
            for i in w..<(3 * w) { d.scaler[i] *= 1e6 }
        }
        log.warning("fault injection: model delta \(d.seq) poisoned (\(nan ? "NaN" : "x 1e6, samples x 1000"))")
    }

    /// The worker's Prometheus metrics.
    func prometheus() -> String {
        let r = currentReport()
        let p = scrape
        p.add("tributary_records_in_total", .counter, "Input records read.", Double(r.processed))
        p.add("tributary_predictions_total", .counter, "Predictions produced.", Double(r.predictions))
        p.add("tributary_dead_letters_total", .counter, "Records sent to the dead-letter topic.", Double(r.deadLetters))
        for (reason, n) in r.deadLettersByReason.sorted(by: { $0.key < $1.key }) {
            p.add("tributary_dead_letters_by_reason_total", .counter, "Dead letters by reason.", Double(n), [("reason", reason)])
        }
        p.add("tributary_delivery_errors_total", .counter, "Outputs that failed delivery (partition replayed).", Double(r.deliveryErrors))
        p.add("tributary_key_mismatches_total", .counter, "Records whose Kafka key is not their features.key value.", Double(r.keyMismatches))
        p.add("tributary_skipped_offsets_total", .counter, "Input offsets never read (deleted before reached).", Double(r.skippedOffsets))
        for (what, n) in r.badValues.sorted(by: { $0.key < $1.key }) {
            let parts = what.split(separator: ":", maxSplits: 1).map(String.init)
            p.add("tributary_bad_values_total", .counter, "Bad feature values (handled per on_bad_value).", Double(n),
                  [("reason", parts[0]), ("field", parts.count > 1 ? parts[1] : "")])
        }
        p.add("tributary_transactions_committed_total", .counter, "Exactly-once transactions committed.", Double(r.transactionsCommitted))
        p.add("tributary_transactions_aborted_total", .counter, "Exactly-once transactions aborted (their records replayed).", Double(r.transactionsAborted))
        p.add("tributary_partitions_fenced_total", .counter, "Partitions given up because their transactional producer was fenced or failed.", Double(r.fencedPartitions))
        p.add("tributary_late_dropped_total", .counter, "Records behind the watermark, dropped.", Double(r.lateDropped))
        p.add("tributary_expired_keys_total", .counter, "Keys forgotten after their TTL.", Double(r.expiredKeys))
        p.add("tributary_changelog_bytes_total", .counter, "Feature-state changelog bytes written.", Double(r.changelogBytes))
        p.add("tributary_in_flight", .gauge, "Outputs awaiting delivery.", Double(r.inFlight))
        p.add("tributary_events_per_second", .gauge, "Records per second over the last heartbeat.", r.eventsPerSecond)
        p.add("tributary_progressive_accuracy", .gauge, "Accuracy of predictions made before learning.", r.accuracy)
        p.add("tributary_progressive_log_loss", .gauge, "Mean loss of predictions made before learning.", r.logLoss)
        for (scope, figures) in [("run", r.metrics), ("window", r.windowMetrics)] {
            for (name, v) in figures.sorted(by: { $0.key < $1.key }) where name != "count" {
                p.add("tributary_progressive_metric", .gauge, "Progressive validation figures (whole run and rolling window).",
                      v, [("metric", name), ("scope", scope)])
            }
        }
        p.add("tributary_drift_detections_total", .counter, "Drift detections on the running loss (Page-Hinkley).",
              Double(r.evaluation?.driftDetections ?? 0))
        p.add("tributary_model_version", .gauge, "Global model version in use.", Double(r.modelVersion))
        p.add("tributary_kafka_error", .gauge, "1 while Kafka reports an error (last 10 s).", r.kafkaError.isEmpty ? 0 : 1)
        for part in r.partitions {
            let l = [("partition", String(part.partition))]
            p.add("tributary_partition_lag", .gauge, "Records not yet read.", Double(max(part.lag, 0)), l)
            p.add("tributary_partition_committed_offset", .gauge, "Committed offset (next to read).", Double(part.committed), l)
            p.add("tributary_partition_epoch", .gauge, "Assignment epoch.", Double(part.epoch), l)
            p.add("tributary_partition_keys", .gauge, "Keys with feature state.", Double(part.keys), l)
            p.add("tributary_partition_state_bytes", .gauge, "Feature state size at its last full snapshot.", Double(part.stateBytes), l)
        }
        return p.finish()
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
        r.models = models?.reports ?? []
        r.modelAgeMs = Clock.nowMs() - modelAdoptedAt
        r.badValues = counters.badValues.mapValues { Int64($0) }
        r.lateDropped = Int64(counters.lateDropped)
        r.expiredKeys = Int64(counters.expiredKeys)
        let topic = config?.kafka.inputTopic ?? ""
        r.partitions = parts.values.sorted { $0.lease.partition < $1.lease.partition }.map { run in
            var lag: Int64 = -1
            if let wm = consumer?.cachedWatermarks(TopicPartition(topic, run.lease.partition)) {
                let pos = run.position >= 0 ? run.position : max(run.committed, wm.low)
                lag = max(0, wm.high - pos)
            }
            var pr = PartitionReport(partition: run.lease.partition, epoch: run.lease.epoch, position: run.position,
                                     committed: run.committed, lag: lag, processed: run.processed, keys: run.state.keyCount)
            pr.stateBytes = run.state.snapshotBytes
            pr.restoreMs = run.restoreMs
            pr.restoredKeys = run.restoredKeys
            return pr
        }
        return r
    }
}

extension ParsedEvent {
    /// An empty event until the feature spec is known (the welcome carries it).
    init(slotsPlaceholder: ()) {
        self = EventParser(keyPath: "k", timestampPath: "", labelPath: "", numericPaths: []).makeEvent()
    }
}
