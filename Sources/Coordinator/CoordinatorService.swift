import Foundation
import Logging
import Config
import Kafka
import Models
import Wire
import ZeroMQ
import Runtime

/// The coordinator's I/O shell: one ZeroMQ ROUTER for workers and status clients, the
/// embedded broker when configured, and a loop that feeds `Membership` and carries out its
/// directives. Single-threaded: the sockets and the state machine never cross threads.
public final class CoordinatorService {
    let config: ClusterConfig
    let log: Logger
    let context = ZmqContext()
    let router: ZmqSocket
    public let bootstrap: String
    public let endpoint: String
    public let metrics: MetricsServer?
    private var broker: EmbeddedBroker?
    private var admin: KafkaProducer?
    private var membership: Membership
    private var aggregator: ModelAggregator
    /// The N-vs-1 monitor (`[model] reference_sample`), for the champion it was built for.
    private var reference: (champion: String, monitor: ReferenceMonitor)?
    /// The models the cluster runs now (champion, challengers) and their lifecycle.
    private var lifecycle: ModelLifecycle
    private var lastRuleCheck: Int64 = 0
    /// Writes model checkpoints (and, for real brokers, creates topics).
    private let checkpoints: KafkaProducer
    private let started = Clock.nowMs()
    /// Told to workers in the welcome (`Welcome.incarnation`).
    private let incarnation = Clock.wallMs()
    /// With an election (`[coordinator] election = "kafka"`): the epoch this process became
    /// active with; every message it sends carries it (`WireCodec`'s envelope).
    public let leaderEpoch: Int64?
    /// Set when `run` returned because this elected coordinator was away too long.
    public private(set) var steppedDown = false
    private var badMessages = 0
    /// CURVE on: the ZAP handler that admits workers' and status clients' keys.
    private let zap: ZapHandler?
    /// Messages refused because their sender's role does not allow them (a status key
    /// trying to register, ...).
    private var forbiddenMessages = 0
    private var handledMessages = 0
    private var syncBytes = 0
    private var syncBytesTotal = 0
    /// The quality over time, for `tributary report`.
    private var history: QualityHistory
    /// The newest version checkpointed and sent to workers.
    private var publishedVersion = 0
    private var published: ModelUpdate?
    /// Which workers get a version as a difference from the one they hold.
    private var broadcast: VersionBroadcast
    /// Combined deltas received per relay (status).
    private var relayDeltas: [String: Int] = [:]
    /// A merged version waiting for its checkpoint's delivery before it is sent.
    private var awaitingCheckpoint: ModelUpdate?
    private var checkpointRetryAt: Int64 = 0
    /// Splits checkpoints into model-topic records under a bounded set of keys.
    private let store: ModelStore
    /// Each write of a checkpoint has its own number, in its records' delivery tags (above
    /// the chunk index), so a late report of an abandoned write is not counted.
    private var checkpointWrite = 0
    private var checkpointPending: Set<Int> = []
    private var checkpointFailed = false
    /// Why the version being checkpointed is not written yet ("" when all is well).
    private var checkpointStatus = ""
    private var commandReply: (identity: [UInt8], isReq: Bool, version: Int)?
    private var syncBytesPerSecond = 0.0
    /// Figures published into the process's metrics registry at each scrape.
    let scrape = ScrapePublisher()

    public init(config: ClusterConfig, leaderEpoch: Int64? = nil) throws {
        self.config = config
        self.leaderEpoch = leaderEpoch
        log = Log.logger("coordinator", level: config.cluster.logLevel)
        let k = config.kafka
        var partitions = k.partitions
        if k.isEmbedded {
            let b = try EmbeddedBroker(brokers: k.embeddedBrokers)
            let (rf, capped) = k.effectiveReplication(brokers: k.embeddedBrokers)
            if capped && k.replicationFactor > 0 {
                log.warning("kafka.replication_factor = \(k.replicationFactor) is more than the embedded broker's \(k.embeddedBrokers) brokers (kafka.embedded_brokers): topics get \(rf) replicas")
            }
            for t in [k.inputTopic, k.outputTopic, k.deadLetterTopic, k.effectiveChangelogTopic, config.lifecycle.shadowTopic,
                      config.features.repartition ? k.repartitionTopic : "", config.labels.topic,
                      config.features.repartition && config.labels.enabled ? k.labelsRepartitionTopic : ""] where !t.isEmpty {
                try b.createTopic(t, partitions: k.partitions, replicationFactor: rf)
            }
            try b.createTopic(k.modelTopic, partitions: 1, replicationFactor: rf)
            broker = b
            bootstrap = b.bootstrap
            log.info("embedded Kafka broker (librdkafka mock cluster, \(k.embeddedBrokers) brokers) at \(bootstrap); topics \(k.inputTopic), \(k.outputTopic), \(k.deadLetterTopic) with \(k.partitions) partitions")
        } else {
            bootstrap = k.bootstrap
            var c = KafkaClientConfig(k.client)
            c["bootstrap.servers"] = bootstrap
            let a = try KafkaProducer(config: c)
            // Create only what is missing: a restart must be quick (workers hold their
            // partitions only for their lease), and some brokers never answer CreateTopics.
            // Existence comes from the list of all topics: asking for one by name lets the
            // broker auto-create it with its default partition count (the mock's is 4, a
            // real broker's num.partitions), too few for a changelog.
            let layout = (try? a.layout(timeoutMs: 5000)) ?? ClusterLayout(brokers: 0)
            let (rf, capped) = k.effectiveReplication(brokers: layout.brokers > 0 ? layout.brokers : Int.max)
            var compacted: [(topic: String, setting: String)] = []
            if capped {
                log.warning("the cluster at \(bootstrap) has \(layout.brokers) brokers, fewer than kafka.replication_factor (\(k.replicationFactor > 0 ? k.replicationFactor : 3)): topics Tributary creates get \(rf) replicas, and a broker's loss can lose the feature changelog and the model history")
            }
            for t in [k.inputTopic, k.outputTopic, k.deadLetterTopic, k.modelTopic, k.effectiveChangelogTopic, config.lifecycle.shadowTopic] where !t.isEmpty {
                let model = t == k.modelTopic
                // The changelog must have the input's partition count (one changelog
                // partition per input partition) and be compacted.
                let compact = model || t == k.effectiveChangelogTopic
                if let have = layout.topics[t] {
                    if have.replicas < rf {
                        log.warning("topic \(t) has \(have.replicas) replicas, fewer than kafka.replication_factor (\(rf)): raise it with kafka-reassign-partitions, or a broker's loss can lose it")
                    }
                    if compact { compacted.append((t, model ? "kafka.model_topic" : "kafka.changelog_topic")) }
                    continue
                }
                var configs = compact ? ["cleanup.policy": "compact"] : [:]
                if k.minInsyncReplicas > 0 { configs["min.insync.replicas"] = String(min(k.minInsyncReplicas, rf)) }
                do {
                    try a.createTopic(t, partitions: model ? 1 : k.partitions, replicationFactor: rf, configs: configs, timeoutMs: 5000)
                    log.info("created topic \(t): \(model ? 1 : k.partitions) partitions, \(rf) replicas\(configs.isEmpty ? "" : ", \(configs.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")")
                } catch {
                    log.warning("could not create topic \(t): \(error)")
                }
            }
            do { partitions = try a.partitionCount(topic: k.inputTopic) } catch {
                throw ServiceError("input topic \(k.inputTopic) at \(bootstrap): \(error)")
            }
            if config.labels.enabled {
                // Labels are keyed like their events: label partition p goes with input
                // partition p, so the counts must match.
                if let have = layout.topics[config.labels.topic] {
                    guard have.partitions == partitions else {
                        throw ServiceError("the labels topic \(config.labels.topic) (labels.topic) has \(have.partitions) partitions, the input topic \(k.inputTopic) \(partitions): labels must be co-partitioned with their events (same partition count, keyed by \(config.features.key))")
                    }
                } else {
                    do {
                        try a.createTopic(config.labels.topic, partitions: partitions, replicationFactor: rf, timeoutMs: 5000)
                        log.info("created topic \(config.labels.topic): \(partitions) partitions, \(rf) replicas (labels)")
                    } catch {
                        log.warning("could not create topic \(config.labels.topic): \(error)")
                    }
                }
            }
            if config.features.repartition {
                // The re-keyed input (and labels): one partition per input partition (the
                // worker holding input partition p reads repartition partition p).
                for (t, what) in [(k.repartitionTopic, "the input"), (k.labelsRepartitionTopic, "the labels")]
                    where t == k.repartitionTopic || config.labels.enabled {
                    if let have = layout.topics[t] {
                        guard have.partitions == partitions else {
                            throw ServiceError("the repartition topic \(t) (features.repartition) has \(have.partitions) partitions, the input topic \(k.inputTopic) \(partitions): delete it (it holds only re-keyed copies of \(what)) or change kafka.group_id")
                        }
                    } else {
                        var configs: [String: String] = [:]
                        if k.minInsyncReplicas > 0 { configs["min.insync.replicas"] = String(min(k.minInsyncReplicas, rf)) }
                        do {
                            try a.createTopic(t, partitions: partitions, replicationFactor: rf, configs: configs, timeoutMs: 5000)
                            log.info("created topic \(t): \(partitions) partitions, \(rf) replicas (\(what) re-keyed by \(config.features.key))")
                        } catch {
                            log.warning("could not create topic \(t): \(error)")
                        }
                    }
                }
            }
            // One changelog partition per input partition: with fewer, the feature state of
            // the others could never be checkpointed (refused here, not found at run time).
            if config.features.isStateful, let n = try? a.partitionCount(topic: k.effectiveChangelogTopic, timeoutMs: 5000), n < partitions {
                throw ServiceError("the feature changelog topic \(k.effectiveChangelogTopic) (kafka.changelog_topic) has \(n) partitions, fewer than the \(partitions) of the input topic \(k.inputTopic): the feature state of partitions \(n)..<\(partitions) could not be checkpointed. Recreate it with \(partitions) partitions (and cleanup.policy=compact), or name another in kafka.changelog_topic")
            }
            admin = a
            if !compacted.isEmpty { Self.checkCompacted(compacted, client: c, log: log) }
        }
        var pc = KafkaClientConfig(k.client)
        pc["bootstrap.servers"] = bootstrap
        for (key, v) in k.producer { pc[key] = v }
        // librdkafka's default message.max.bytes (1 MB) holds every record: checkpoints
        // are split into records of at most 512 KiB (ModelStore).
        // The next merge waits for a version's records: send at once.
        if k.producer["linger.ms"] == nil { pc["linger.ms"] = "0" }
        checkpoints = try KafkaProducer(config: pc)
        history = QualityHistory(intervalMs: Int64(config.coordinator.historyIntervalMs))
        store = ModelStore(slots: config.model.keepVersions)
        lifecycle = ModelLifecycle(layout: config.layout, features: config.features, rule: config.lifecycle)
        broadcast = VersionBroadcast(compression: config.model.versionCompression ?? .none)
        aggregator = ModelAggregator(parameterCount: lifecycle.geometry.parameterCount,
                                     syncIntervalMs: config.model.syncIntervalMs, eager: (config.model.syncEverySamples ?? 0) > 0,
                                     now: Clock.nowMs(),
                                     robust: RobustPolicy(mode: .init(rawValue: config.model.robustAveraging) ?? .clip,
                                                          factor: config.model.robustFactor),
                                     rule: config.model.mergeRule, server: config.model.serverStep,
                                     shards: ProcessInfo.processInfo.activeProcessorCount)
        // Per frame: parameters travel split into frames of 4 MiB (WireCodec.maxFrameBytes),
        // bodies are at most 16 MiB.
        router = try ZmqSocket(context, .router, maxMessageSize: Int64(WireCodec.maxBodyBytes))
        try router.setRouterMandatory()
        if config.security.curve, let secret = config.security.secretKey {
            // The ZAP handler must be bound before the first client connects.
            zap = try ZapHandler(context: context, policy: AccessPolicy(config.security))
            try router.makeCurveServer(secretKey: secret, zapDomain: "tributary")
            log.info("CURVE on: \(config.security.workerKeys.count) worker keys, \(config.security.statusKeys.count) status keys allowed")
        } else {
            zap = nil
            if !Self.isLocal(config.coordinator.bind) {
                log.warning("coordinator.bind = \(config.coordinator.bind) without [security] curve = true: anyone who reaches this address can join as a worker, move the model or read status (docs/CONFIG.md, [security])")
            }
        }
        do { try router.bind(config.coordinator.bind) } catch {
            throw ServiceError("cannot listen on coordinator.bind = \(config.coordinator.bind): \(error)")
        }
        // Advertise what was configured, else the endpoint actually bound (resolves `:*`).
        endpoint = config.coordinator.advertise.isEmpty ? router.lastEndpoint : config.coordinator.advertise
        // After a restart, give workers that still run partitions one failure timeout to
        // re-register, so the existing map is adopted instead of reshuffled. A brand-new
        // cluster pays this once at start (a few seconds).
        // After a takeover, one lease and two heartbeats: a worker the dead coordinator gave a
        // lease either re-registers here meanwhile or has stopped its partitions by then, so
        // nothing is handed to another worker while it may still run.
        let grace = leaderEpoch != nil
            ? Int64(config.effectiveLeaseMs + 2 * config.coordinator.heartbeatMs)
            : Int64(min(config.coordinator.failureTimeoutMs, 3 * config.coordinator.heartbeatMs))
        membership = Membership(
            partitions: partitions,
            settings: .init(failureTimeoutMs: Int64(config.coordinator.failureTimeoutMs), startupGraceMs: grace,
                           rebalanceDelayMs: Int64(config.coordinator.rebalanceDelayMs)),
            now: Clock.nowMs())
        metrics = config.coordinator.metricsBind.isEmpty ? nil : try MetricsServer(address: config.coordinator.metricsBind)
        log.info("listening on \(router.lastEndpoint) (workers connect to \(endpoint)); \(partitions) input partitions\(metrics.map { "; metrics on port \($0.port)" } ?? "")")
        restoreCheckpoint()
        // Learning from a weights file starts there once (a checkpoint holds what was learnt
        // since); inference serves the file as it is now, so a changed file is a new version.
        if let p = config.model.pretrained,
           config.model.learns ? aggregator.version == 0 : p.parameters != aggregator.parameters {
            // The weights file is the model to serve (inference) or to start from (learning):
            // it becomes the next global version, checkpointed, so rollback can return to it.
            // The champion's part of the vector (challengers keep theirs).
            var all = aggregator.parameters
            let champ = lifecycle.layout.championIndex
            if lifecycle.layout.models[champ].spec == config.model, p.parameters.count == lifecycle.geometry.parts[champ].parameterCount {
                all = lifecycle.geometry.replacing(all, of: champ, with: p.parameters)
            }
            if let u = aggregator.replace(with: all) {
                log.info("loaded \(config.model.weightsFile) as global model version \(u.version)")
                executeModel(.publish(u))
            }
        }
    }

    /// An existing model or changelog topic must be compacted: with `delete`, retention
    /// removes the newest model versions and the feature state along with the old (restores
    /// then start from nothing), and without retention the topic grows for ever. Said once,
    /// naming the topic and the setting. Off the start path, with a client of its own: a
    /// broker without DescribeConfigs (the embedded one) answers only with a timeout, and a
    /// restarted coordinator must be back before the workers' leases end.
    private static func checkCompacted(_ topics: [(topic: String, setting: String)], client: KafkaClientConfig, log: Logger) {
        let work = { @Sendable in
            guard let admin = try? KafkaProducer(config: client, deliveryReports: false) else { return }
            for (topic, setting) in topics {
                let policy: String
                do { policy = try admin.topicConfig(topic, timeoutMs: 5000)["cleanup.policy"] ?? "" } catch {
                    log.debug("cannot read the configuration of \(topic): \(error)")
                    return
                }
                guard !policy.isEmpty, !policy.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "compact" }) else { continue }
                log.warning("topic \(topic) (\(setting)) has cleanup.policy=\(policy), not compact: retention will delete what a restart restores from, and without it the topic grows for ever. Fix: kafka-configs --alter --entity-type topics --entity-name \(topic) --add-config cleanup.policy=compact")
            }
        }
        Thread.detachNewThread(work)
    }

    /// A consumer for reading the model topic (restore, rollback); commits nothing.
    private func checkpointConsumer() throws(KafkaError) -> KafkaConsumer {
        var c = KafkaClientConfig(config.kafka.client)
        c["bootstrap.servers"] = bootstrap
        c["group.id"] = "tributary-coordinator-checkpoints"
        c["fetch.wait.max.ms"] = "10"
        return try KafkaConsumer(config: c)
    }

    /// Resumes the global model from the newest complete checkpoint in the model topic (or
    /// file). The topic is read backwards in growing windows from its end: a version's
    /// chunks are written in order after the previous version's, so the newest complete
    /// version in a window is the newest of the topic, and a restart reads about one version
    /// (plus a torn one, if the last coordinator died mid-write), not the whole history.
    private func restoreCheckpoint() {
        var best: ModelCheckpoint?
        if !config.model.checkpointFile.isEmpty, let d = FileManager.default.contents(atPath: config.model.checkpointFile) {
            do { best = try ModelCheckpoint(file: Array(d)) } catch {
                log.warning("model.checkpoint_file \(config.model.checkpointFile) not used: \(error)")
            }
        }
        do {
            let consumer = try checkpointConsumer()
            let tp = TopicPartition(config.kafka.modelTopic, 0)
            let wm = try consumer.queryWatermarks(tp, timeoutMs: 5000)
            var window: Int64 = 64
            var start = wm.high
            var assembler = CheckpointAssembler()
            while start > wm.low {
                let from = max(wm.low, wm.high - window)
                try read(from: from, to: start) { assembler.add($0) }
                start = from
                if assembler.newest() != nil { break }
                window *= 4
            }
            if let cp = assembler.newest(), cp.version > (best?.version ?? -1) { best = cp }
            if !assembler.unreadable.isEmpty {
                log.warning("\(config.kafka.modelTopic): \(assembler.unreadable.count) records are not checkpoints (first: \(assembler.unreadable[0]))")
            }
        } catch {
            log.warning("cannot read model checkpoints from \(config.kafka.modelTopic): \(error)")
        }
        guard let cp = best else { return }
        // The models deployed since the config was read come back with the checkpoint.
        let layout = cp.layout ?? config.layout
        let configured = config.model
        let saved = layout.models.first { $0.name == config.modelName }?.spec
        // A [model] that now names another model (its type, classes, mode or pre-trained
        // file) is a new model: the checkpoint of the old one must not replace it. (A
        // checkpoint without that model, retired after a promotion, is the cluster's own.)
        let sameModel = saved.map { $0.type == configured.type && $0.classes == configured.classes && $0.mode == configured.mode
            && $0.pipeline == configured.pipeline } ?? true
        if !sameModel {
            log.warning("checkpoint version \(cp.version) was written for another [model] \(config.modelName) (type, classes, mode or pre-trained model changed); starting a new model")
        } else if cp.features != config.features.featureNames {
            log.warning("checkpoint version \(cp.version) has other features (\(cp.features)); starting a new model")
        } else if let why = layout.problem(with: config.features) {
            log.warning("checkpoint version \(cp.version) has models that cannot run with this config (\(why)); starting a new model")
        } else if ModelGeometry(layout, features: config.features).parameterCount != cp.parameters.count {
            log.warning("checkpoint version \(cp.version) has \(cp.parameters.count) parameters, its models need another number; starting a new model")
        } else if aggregator.restore(version: cp.version, parameters: cp.parameters, scaler: cp.scaler ?? [], resize: true) {
            lifecycle.adopt(layout, now: [])
            publishedVersion = cp.version
            published = ModelUpdate(version: cp.version, contributions: [:], parameters: cp.parameters, scaler: cp.scaler ?? [],
                                    layout: layout)
            log.info("resumed global model version \(cp.version) from checkpoint\(layout.models.count > 1 ? " (models \(layout.models.map(\.name)), champion \(layout.champion))" : "")")
        }
    }

    /// Reads offsets from..<to of the model topic, with a consumer of its own (so no record
    /// fetched for another range can end this one early). A compacted topic has gaps: the
    /// end is the first record at or past `to`, or 10 s without a record.
    private func read(from: Int64, to: Int64, _ body: ([UInt8]) -> Void) throws(KafkaError) {
        guard from < to else { return }
        let consumer = try checkpointConsumer()
        try consumer.assign([TopicPartition(config.kafka.modelTopic, 0)], start: .offset(from))
        var next = from
        var lastProgress = Clock.nowMs()
        while next < to && Clock.nowMs() - lastProgress < 10_000 {
            consumer.poll(timeoutMs: 100) { r in
                guard r.offset < to else { next = to; return }
                next = r.offset + 1
                lastProgress = Clock.nowMs()
                body(Array(r.value))
            }
        }
    }

    /// Writes a version: its records to the model topic (each delivery report counted; the
    /// version is published when all arrived), and the file if one is set.
    private func checkpoint(_ u: ModelUpdate) {
        let cp = ModelCheckpoint(version: u.version, parameters: u.parameters,
                                 features: config.features.featureNames, wallMs: Clock.wallMs(),
                                 scaler: u.scaler.isEmpty ? nil : u.scaler, layout: u.layout)
        checkpointWrite += 1
        let records = store.records(cp)
        checkpointPending = Set(records.map { checkpointWrite << 16 | $0.index })
        checkpointFailed = false
        do {
            for r in records {
                try checkpoints.produce(topic: config.kafka.modelTopic, partition: 0, key: r.key, value: r.value,
                                        tag: checkpointWrite << 16 | r.index)
            }
        } catch {
            log.warning("model checkpoint \(u.version) not written: \(error); retrying")
            checkpointStatus = "version \(u.version) not written: \(error)"
            checkpointRetryAt = Clock.nowMs() + 1000
        }
        if !config.model.checkpointFile.isEmpty {
            do { try Data(records.isEmpty ? [] : cp.binary()).write(to: URL(fileURLWithPath: config.model.checkpointFile), options: .atomic) } catch {
                log.warning("model checkpoint file \(config.model.checkpointFile): \(error)")
            }
        }
    }

    /// Runs until `shouldStop()` returns true (checked at least every 100 ms).
    public func run(shouldStop: () -> Bool) {
        var lastTick: Int64 = 0
        var lastPing: Int64 = 0
        var lastMetadata = Clock.nowMs()
        var lastRate = Clock.nowMs()
        var lastPass = Clock.nowMs()
        while !shouldStop() {
            // Elected, and away longer than the election session (stopped, starved): Kafka has
            // most likely given the election to a standby meanwhile. Stop before acting on
            // anything (a message, a merge, a checkpoint), not after the group says so.
            let passStart = Clock.nowMs()
            if awayTooLong(since: lastPass) { break }
            defer { lastPass = Clock.nowMs() }
            // Checkpoint delivery reports wake the loop too: a merged version is sent to the
            // workers as soon as its checkpoint is durable, not at the next tick.
            let ready = zmqPollReadable([router] + (zap.map { [$0.socket] } ?? []),
                                        fds: [checkpoints.wakeupFD()] + (metrics?.fds ?? []), timeoutMs: 50)
            // The wait is where a stopped process most likely was: check again before acting.
            if awayTooLong(since: passStart) { break }
            if let zap, ready.sockets[1] {
                zap.serve { key, address in
                    if zap.refused <= 10 || zap.refused % 1000 == 0 {
                        log.warning("refused a connection from \(address.isEmpty ? "?" : address): unknown CURVE key \(key.isEmpty ? "(none)" : key) (\(zap.refused) refused so far)")
                    }
                }
            }
            checkpoints.clearWakeup()
            if let metrics, ready.fds.dropFirst().contains(true) { metrics.serve(ready: true) { prometheus() } }
            if ready.sockets[0] {
                // Drain what is there, bounded so ticks still happen under a flood.
                for _ in 0..<1000 {
                    guard let m = try? router.receiveWithUser(dontWait: true) else { break }
                    handle(m.frames, role: m.user)
                }
            }
            let now = Clock.nowMs()
            if now - lastTick >= 100 {
                metrics?.sweep()
                // A stalled loop (a slow disk, a stopped process) must not make live workers
                // look silent: give everyone the time the coordinator itself was away.
                let gap = now - lastTick
                if lastTick > 0 && gap > Int64(config.coordinator.heartbeatMs) * 2 {
                    log.warning("coordinator loop stalled for \(gap) ms; extending every worker's deadline")
                    execute(membership.handle(.coordinatorPaused, now: now))
                }
                lastTick = now
                execute(membership.handle(.tick, now: now))
            }
            // Every pass, not every 100 ms tick: one model round trip (merge, checkpoint,
            // publish) per sync interval is what keeps many workers close to one model.
            serveCheckpoints(now: now)
            if awaitingCheckpoint == nil {
                for d in aggregator.tick(now: now) { executeModel(d) }
            }
            if awaitingCheckpoint == nil && now - lastRuleCheck >= 500 {
                lastRuleCheck = now
                applyPromotionRule()
            }
            if history.due(now: now) { history.record(status(), wallMs: Clock.wallMs(), now: now) }
            if now - lastRate >= 1000 {
                syncBytesPerSecond = Double(syncBytes) * 1000 / Double(now - lastRate)
                syncBytes = 0
                lastRate = now
            }
            if now - lastPing >= Int64(config.coordinator.heartbeatMs) {
                lastPing = now
                for (id, m) in membership.members where m.state != .dead {
                    send(to: id, .ping(Ping(nowMs: Clock.wallMs())))
                }
            }
            if let admin, now - lastMetadata >= 10_000 {
                lastMetadata = now
                // Short: this call blocks the loop, and workers' leases (~2 s) must keep being
                // renewed even while the broker is unreachable.
                if let n = try? admin.partitionCount(topic: config.kafka.inputTopic, timeoutMs: 250) {
                    execute(membership.handle(.partitionCount(n), now: now))
                }
            }
        }
        log.info("stopping")
    }

    /// Elected, and nothing done since `since` for longer than the election session: sets
    /// `steppedDown` (the loop then ends) and says why.
    private func awayTooLong(since: Int64) -> Bool {
        let away = Clock.nowMs() - since
        guard leaderEpoch != nil, away > Int64(config.coordinator.electionSessionMs) else { return false }
        log.error("this coordinator was away \(away) ms, longer than coordinator.election_session_ms (\(config.coordinator.electionSessionMs)): another coordinator may be active; stepping down")
        steppedDown = true
        return true
    }

    /// Loopback, ipc:// or inproc://: reachable from this host only.
    static func isLocal(_ endpoint: String) -> Bool {
        guard endpoint.hasPrefix("tcp://") else { return true }
        let host = endpoint.dropFirst(6).split(separator: ":").first.map(String.init) ?? ""
        return host.hasPrefix("127.") || host == "localhost" || host == "[::1]"
    }

    private func handle(_ frames: [[UInt8]], role: String) {
        guard frames.count >= 2 else {
            badMessages += 1
            if badMessages <= 10 || badMessages % 1000 == 0 {
                log.warning("dropped a message without content (\(badMessages) dropped so far)")
            }
            return
        }
        let identity = frames[0]
        // REQ clients put an empty delimiter after the identity; DEALERs do not.
        var body = frames[1...]
        let isReq = body.first?.isEmpty == true
        if isReq { body = body.dropFirst() }
        let msg: WireMessage
        do { msg = try WireCodec.decode(body) } catch {
            badMessages += 1
            // The first few in full, then a line per thousand: a flood must not flood the log.
            if badMessages <= 10 || badMessages % 1000 == 0 {
                log.warning("dropped a message from \(printable(identity)): \(error) (\(badMessages) dropped so far)")
            }
            reply(identity, isReq: isReq, .error(WireFailure(message: error.description)))
            return
        }
        if case .statusRequest(let r) = msg {
            var s = status()
            if r.history == true { s.history = history.samples }
            reply(identity, isReq: isReq, .status(s))
            return
        }
        // With CURVE, a status key reads status and nothing else.
        if zap != nil && role != AccessPolicy.Role.worker.rawValue {
            forbiddenMessages += 1
            if forbiddenMessages <= 10 || forbiddenMessages % 1000 == 0 {
                log.warning("refused '\(msg.typeName)' from \(printable(identity)): its key may only read status (\(forbiddenMessages) refused so far)")
            }
            reply(identity, isReq: isReq, .error(WireFailure(message: "this key may only read status")))
            return
        }
        handledMessages += 1
        if case .modelCommand(let c) = msg {
            switch handleModelCommand(c) {
            case .answer(let m): reply(identity, isReq: isReq, m)
            case .whenPublished(let v): commandReply = (identity, isReq, v)
            }
            return
        }
        if case .modelDelta(let d) = msg {
            syncBytes += frames.reduce(0) { $0 + $1.count }
            syncBytesTotal += frames.reduce(0) { $0 + $1.count }
            // Only members may move the model: a worker itself, or a relay (`tributary relay`)
            // whose combined delta holds only live members' deltas.
            if let members = d.members {
                let strangers = members.keys.filter { membership.members[$0].map { $0.state == .dead } ?? true }.sorted()
                var why: String?
                if members.isEmpty { why = "no members" }
                else if d.workerId != printable(identity) { why = "it names itself \(d.workerId)" }
                else if !strangers.isEmpty { why = "not live workers: \(strangers.prefix(5).joined(separator: ", "))" }
                if let why {
                    log.warning("ignored a combined model delta from relay \(printable(identity)): \(why)")
                    return
                }
                relayDeltas[d.workerId, default: 0] += 1
            } else {
                guard let m = membership.members[printable(identity)], m.state != .dead, d.workerId == m.id else {
                    log.warning("ignored a model delta from non-member \(printable(identity))")
                    return
                }
            }
            for dir in aggregator.receive(d) { executeModel(dir) }
            if d.reference != nil || d.referenceDropped != nil { observeReference(d.reference ?? [], dropped: d.referenceDropped ?? 0) }
            return
        }
        let from = printable(identity)
        if case .hello(let h) = msg, !h.held.isEmpty { aggregator.mergeSoon(now: Clock.nowMs()) }
        if case .heartbeat(let r) = msg, let missed = r.modelMissed, let m = membership.members[from], m.state != .dead,
           let whole = broadcast.missed(missed, by: from) {
            log.info("\(from) lacks the version before \(missed): sending version \(whole.version) whole")
            send(to: from, .modelUpdate(whole))
        }
        execute(membership.handle(.message(from: from, msg), now: Clock.nowMs()))
    }

    private func reply(_ identity: [UInt8], isReq: Bool, _ m: WireMessage) {
        let frames = isReq ? [identity, []] + WireCodec.encode(m, epoch: leaderEpoch) : [identity] + WireCodec.encode(m, epoch: leaderEpoch)
        try? router.send(frames, dontWait: true)
    }

    enum CommandOutcome { case answer(WireMessage), whenPublished(Int) }

    private func handleModelCommand(_ c: ModelCommand) -> CommandOutcome {
        let features = config.features.featureNames
        let layout = lifecycle.layout
        func part(_ name: String) -> Result<(Int, ModelGeometry.Part), LifecycleError> {
            guard let i = layout.index(of: name) else { return .failure(lifecycle.missing(name)) }
            return .success((i, lifecycle.geometry.parts[i]))
        }
        if ["import", "rollback", "deploy", "retire", "promote", "ab"].contains(c.action), let busy = awaitingCheckpoint {
            return .answer(.error(WireFailure(message: "busy: version \(busy.version) is being checkpointed; retry")))
        }
        switch c.action {
        case "export":
            var u = ModelUpdate(version: publishedVersion, contributions: [:],
                                parameters: published?.parameters ?? aggregator.parameters, features: features, layout: layout)
            // One model's part, with its own feature names (default: the champion's).
            switch part(c.name.isEmpty ? layout.champion : c.name) {
            case .failure(let e): return .answer(.error(WireFailure(message: e.description)))
            case .success(let (i, p)):
                if u.parameters.count == lifecycle.geometry.parameterCount { u.parameters = Array(lifecycle.geometry.parameters(u.parameters, of: i)) }
                let m = layout.models[i]
                u.features = (m.features.isEmpty ? config.features.denseNames : m.features) + (p.hashed > 0 ? ["<hashed \(p.hashed)>"] : [])
            }
            return .answer(.modelUpdate(u))
        case "import", "rollback":
            var params = c.parameters
            if c.action == "rollback" {
                switch findCheckpoint(version: c.version) {
                case .success(let cp):
                    guard (cp.layout ?? config.layout).sameModels(as: layout) else {
                        return .answer(.error(WireFailure(message: "version \(c.version) ran other models (\((cp.layout ?? config.layout).models.map(\.name))); rollback works within the same models (\(layout.models.map(\.name)))")))
                    }
                    params = cp.parameters
                case .failure(let e): return .answer(.error(WireFailure(message: e.description)))
                }
            } else {
                // Import into one model (default: the champion); the others keep theirs.
                switch part(c.name.isEmpty ? layout.champion : c.name) {
                case .failure(let e): return .answer(.error(WireFailure(message: e.description)))
                case .success(let (i, p)):
                    guard params.count == p.parameterCount else {
                        return .answer(.error(WireFailure(message: "model \(c.name.isEmpty ? layout.champion : c.name) has \(p.parameterCount) parameters, got \(params.count)")))
                    }
                    params = lifecycle.geometry.replacing(aggregator.parameters, of: i, with: params)
                }
            }
            guard let u = aggregator.replace(with: params) else {
                return .answer(.error(WireFailure(message: "the model has \(aggregator.width) parameters (\(config.model.outputs) × \(features.count) weights + \(config.model.outputs) intercepts), got \(params.count) (or a non-finite value)")))
            }
            log.info("\(c.action == "import" ? "imported parameters" : "rolled back to version \(c.version)") as global model version \(u.version)")
            executeModel(.publish(u))
            return .whenPublished(u.version)
        case "deploy", "retire":
            let change: Result<ModelLifecycle.Change, LifecycleError>
            if c.action == "deploy" {
                var entry: ModelEntry
                do { entry = try ModelEntry.parse(c.spec, syncIntervalMs: config.model.syncIntervalMs) } catch {
                    return .answer(.error(WireFailure(message: "model spec: \(error)")))
                }
                if !c.pretrained.isEmpty {
                    do {
                        let file = try WeightsFile.read(Array(c.pretrained.utf8), type: entry.spec.type, classes: entry.spec.classes,
                                                        features: config.features)
                        guard case .pipeline = file else {
                            return .answer(.error(WireFailure(message: "pre-trained model: expected a \(PretrainedPipeline.currentFormat) file")))
                        }
                        file.apply(to: &entry.spec)
                        entry.spec.mode = "inference"
                    } catch {
                        let why = error.description
                        return .answer(.error(WireFailure(message: "pre-trained model for \(entry.name): \(why.hasPrefix("is ") ? "the file \(why)" : why)")))
                    }
                }
                change = lifecycle.deploying(entry, initial: c.parameters, parameters: aggregator.parameters, scaler: aggregator.scaler)
            } else {
                change = lifecycle.retiring(c.name, parameters: aggregator.parameters, scaler: aggregator.scaler)
            }
            switch change {
            case .failure(let e): return .answer(.error(WireFailure(message: e.description)))
            case .success(let ch):
                guard let u = aggregator.relayout(parameters: ch.parameters, scaler: ch.scaler) else {
                    return .answer(.error(WireFailure(message: "the weights given contain NaN or infinity")))
                }
                lifecycle.adopt(ch.layout, now: lifecycle.statuses(liveReports))
                let what = c.action == "deploy" ? "deployed model \(ch.layout.models.last!.name)\(c.parameters.isEmpty ? "" : " (with given weights)")" : "retired model \(c.name)"
                lifecycle.note("v\(u.version): \(what); models \(ch.layout.models.map(\.name)), champion \(ch.layout.champion)")
                log.info("\(what) at global model version \(u.version); models now \(ch.layout.models.map(\.name))")
                executeModel(.publish(u))
                return .whenPublished(u.version)
            }
        case "promote", "ab":
            let next = c.action == "promote" ? lifecycle.promoting(c.name) : lifecycle.sharing(c.name, c.share)
            switch next {
            case .failure(let e): return .answer(.error(WireFailure(message: e.description)))
            case .success(let l):
                let u = change(to: l, why: c.action == "promote" ? "promoted \(c.name) by command" : "A/B share of \(c.name) set to \(c.share)")
                return .whenPublished(u.version)
            }
        default:
            return .answer(.error(WireFailure(message: "unknown model action '\(c.action)' (export, import, rollback, deploy, retire, promote, ab)")))
        }
    }

    /// A new champion or A/B shares: the next version carries it to every worker.
    @discardableResult
    private func change(to l: ModelLayout, why: String) -> ModelUpdate {
        let before = lifecycle.layout.champion
        lifecycle.adopt(l, now: lifecycle.statuses(liveReports))
        let u = aggregator.bump()
        let line = "v\(u.version): \(why)\(before != l.champion ? "; champion \(before) -> \(l.champion)" : "")"
        lifecycle.note(line)
        log.info("\(line)")
        executeModel(.publish(u))
        return u
    }

    /// The latest heartbeat report of every worker not declared dead.
    private var liveReports: [WorkerReport] {
        membership.members.values.filter { $0.state != .dead }.compactMap(\.report)
    }

    /// The promotion rule ([lifecycle] promote_metric): checked twice a second.
    private func applyPromotionRule() {
        guard !config.lifecycle.promoteMetric.isEmpty, lifecycle.layout.models.count > 1 else { return }
        let models = lifecycle.statuses(liveReports)
        guard let d = lifecycle.ruleDecision(models), case .success(let l) = lifecycle.promoting(d.name) else { return }
        change(to: l, why: "promotion rule: \(d.reason)")
    }

    /// Delivery reports of checkpoints: a version whose every record is confirmed is
    /// published; one with a failed record is written again (the cluster keeps scoring with
    /// the last version meanwhile, and status says why).
    private func serveCheckpoints(now: Int64) {
        checkpoints.poll(timeoutMs: 0, onError: { log.debug("checkpoint producer: \($0)") }) { dr in
            guard let u = awaitingCheckpoint, checkpointPending.remove(dr.tag) != nil else { return }
            if let e = dr.error {
                if !checkpointFailed { log.warning("model checkpoint \(u.version) failed: \(e); retrying") }
                checkpointStatus = "version \(u.version) failed: \(e)"
                checkpointFailed = true
                checkpointRetryAt = now + 1000
            } else if checkpointPending.isEmpty && !checkpointFailed {
                awaitingCheckpoint = nil
                checkpointStatus = ""
                publish(u)
            }
        }
        if let u = awaitingCheckpoint, checkpointRetryAt > 0, now >= checkpointRetryAt {
            checkpointRetryAt = 0
            checkpoint(u)
        }
    }

    /// Reads the model topic for one version's checkpoint.
    private func findCheckpoint(version: Int) -> Result<ModelCheckpoint, ServiceError> {
        var assembler = CheckpointAssembler()
        do {
            let consumer = try checkpointConsumer()
            let tp = TopicPartition(config.kafka.modelTopic, 0)
            let wm = try consumer.queryWatermarks(tp, timeoutMs: 5000)
            try read(from: wm.low, to: wm.high) { assembler.add($0) }
        } catch {
            return .failure(ServiceError("cannot read \(config.kafka.modelTopic): \(error)"))
        }
        if let found = assembler.checkpoint(version: version) {
            guard found.features == config.features.featureNames else {
                return .failure(ServiceError("version \(version) was trained on other features (\(found.features))"))
            }
            return .success(found)
        }
        let kept = assembler.versions
        return .failure(ServiceError("version \(version) is not in \(config.kafka.modelTopic)"
            + (kept.isEmpty ? "" : " (kept: \(kept.first!)–\(kept.last!); model.keep_versions = \(config.model.keepVersions))")))
    }

    private func executeModel(_ d: ModelAggregator.Directive) {
        switch d {
        case .log(let line): log.warning("\(line)")
        case .publish(var u):
            // Every version names the models it is laid out for and the champion from it on.
            u.layout = lifecycle.layout
            log.debug("global model version \(u.version) from \(u.contributions.keys.sorted())")
            // Write-ahead: a version is checkpointed before anyone sees it, so a restarted
            // coordinator never resumes behind a version a worker already runs. The send
            // happens when the checkpoint's delivery report arrives (never blocking the loop:
            // a broker outage must not stop heartbeats).
            awaitingCheckpoint = u
            checkpoint(u)
        }
    }

    /// Sends a checkpointed version to every live worker.
    private func publish(_ u: ModelUpdate) {
        publishedVersion = u.version
        published = u
        let (whole, diff) = broadcast.next(u)
        let diffFrames = diff.map { WireCodec.encode(.modelUpdate($0), epoch: leaderEpoch) }
        var wholeFrames: [[UInt8]]?
        for (id, m) in membership.members where m.state != .dead {
            let frames: [[UInt8]]
            if let diffFrames, broadcast.takesDiff(id, diff) {
                frames = diffFrames
            } else {
                if wholeFrames == nil { wholeFrames = WireCodec.encode(.modelUpdate(whole), epoch: leaderEpoch) }
                frames = wholeFrames!
            }
            do {
                try router.send([Array(id.utf8)] + frames, dontWait: true)
                broadcast.sent(u.version, to: id)
                syncBytes += frames.reduce(0) { $0 + $1.count }
                syncBytesTotal += frames.reduce(0) { $0 + $1.count }
            } catch {
                broadcast.forget(id)
                log.debug("cannot reach \(id): \(error)")
            }
        }
        // An import/rollback is answered once its version is checkpointed and sent.
        if let r = commandReply, r.version == u.version {
            commandReply = nil
            var answer = u
            answer.features = config.features.featureNames
            reply(r.identity, isReq: r.isReq, .modelUpdate(answer))
        }
    }

    private func execute(_ directives: [Membership.Directive]) {
        for d in directives {
            switch d {
            case .log(let line): log.info("\(line)")
            case .welcome(let to):
                let lease = config.effectiveLeaseMs
                var w = Welcome(workerId: to, bootstrap: bootstrap, settings: WorkerSettings(config),
                                heartbeatMs: config.coordinator.heartbeatMs, leaseMs: lease,
                                modelVersion: aggregator.version, modelParameters: aggregator.parameters,
                                layout: lifecycle.layout)
                w.incarnation = incarnation
                // Welcomed with the merged parameters, which a lossy difference was not taken from.
                broadcast.welcomed(to, at: aggregator.version)
                if !config.coordinator.endpoints.isEmpty { w.coordinators = config.coordinator.endpoints }
                send(to: to, .welcome(w))
            case .send(let to, let m): send(to: to, m)
            }
        }
    }

    private func send(to id: String, _ m: WireMessage) {
        do { try router.send([Array(id.utf8)] + WireCodec.encode(m, epoch: leaderEpoch), dontWait: true) } catch {
            log.debug("cannot reach \(id): \(error)")
        }
    }

    /// The coordinator's Prometheus metrics.
    func prometheus() -> String {
        let p = scrape
        var byState: [String: Int] = [:]
        for m in membership.members.values { byState[m.state.rawValue, default: 0] += 1 }
        for st in ["joining", "up", "suspect", "leaving", "dead"] {
            p.add("tributary_workers", .gauge, "Workers known to the coordinator, by state.", Double(byState[st] ?? 0), [("state", st)])
        }
        p.add("tributary_partitions", .gauge, "Partitions of the input topic.", Double(membership.slots.count))
        p.add("tributary_partitions_unassigned", .gauge, "Input partitions with no owner.", Double(membership.unassigned.count))
        p.add("tributary_partition_moves_total", .counter, "Partition assignments made.", Double(membership.moves))
        // Named apart from the workers' tributary_model_version (the version each one uses).
        p.add("tributary_global_model_version", .gauge, "Newest global model version checkpointed and sent.", Double(publishedVersion))
        p.add("tributary_sync_bytes_total", .counter, "Model deltas received plus updates sent, in bytes.", Double(syncBytesTotal))
        p.add("tributary_rejected_deltas_total", .counter, "Model deltas rejected (NaN, size, no samples).",
              Double(aggregator.rejected.values.reduce(0, +)))
        p.add("tributary_rejected_scalers_total", .counter, "Scaler moments of model deltas left out of the merge (out of bounds).",
              Double(aggregator.rejectedScalers.values.reduce(0, +)))
        p.add("tributary_clipped_deltas_total", .counter, "Model deltas scaled down or with capped samples (robust averaging).",
              Double(aggregator.clipped.values.reduce(0, +)))
        p.add("tributary_messages_total", .counter, "Control messages received (status requests excluded).",
              Double(handledMessages), [("result", "handled")])
        p.add("tributary_messages_total", .counter, "Control messages received (status requests excluded).",
              Double(badMessages), [("result", "dropped")])
        p.add("tributary_messages_total", .counter, "Control messages received (status requests excluded).",
              Double(forbiddenMessages), [("result", "forbidden")])
        p.add("tributary_connections_refused_total", .counter, "Connections refused by CURVE authentication (unknown key).",
              Double(zap?.refused ?? 0))
        if let r = reference?.monitor.report {
            p.add("tributary_reference_samples", .gauge, "Sampled labelled events the N-vs-1 monitor scored (reference_sample).", Double(r.samples))
            p.add("tributary_reference_loss", .gauge, "Progressive mean loss on the sampled events: the cluster's model, and one learner that saw only them.",
                  r.clusterLoss, [("model", "cluster")])
            p.add("tributary_reference_loss", .gauge, "Progressive mean loss on the sampled events: the cluster's model, and one learner that saw only them.",
                  r.referenceLoss, [("model", "reference")])
        }
        let reports = membership.members.values.compactMap(\.report)
        for r in reports {
            for part in r.partitions where part.lag >= 0 {
                p.add("tributary_cluster_partition_lag", .gauge, "Records not yet read, per input partition, as its worker last reported.",
                      Double(part.lag), [("partition", String(part.partition)), ("worker", r.workerId)])
            }
        }
        // The cluster's quality: every live worker's progressive validation merged.
        let s = status()
        for (scope, figures) in [("run", s.metrics), ("window", s.windowMetrics)] {
            for (name, v) in figures.sorted(by: { $0.key < $1.key }) where name != "count" {
                p.add("tributary_cluster_progressive_metric", .gauge, "Progressive validation of the served models, merged over the live workers.",
                      v, [("metric", name), ("scope", scope)])
            }
        }
        p.addProcess()
        return p.finish()
    }

    /// Sampled inputs into the reference learner, rebuilt for a new champion (its inputs and
    /// model differ).
    private func observeReference(_ samples: [ReferenceSample], dropped: Int) {
        guard (config.model.referenceSample ?? 0) > 0 else { return }
        let layout = lifecycle.layout, i = layout.championIndex
        if reference?.champion != layout.champion {
            let part = lifecycle.geometry.parts[i]
            reference = (layout.champion, ReferenceMonitor(spec: layout.models[i].spec, dense: part.dense, hashed: part.hashed,
                                                           warnGap: config.model.referenceWarn ?? ModelSpec.defaultReferenceWarn))
        }
        if let warning = reference?.monitor.observe(samples, dropped: max(0, dropped), now: Clock.nowMs()) { log.warning("\(warning)") }
    }

    func status() -> ClusterStatus {
        let now = Clock.nowMs()
        let workers = membership.members.values.sorted { $0.id < $1.id }.map { m in
            WorkerStatus(workerId: m.id, host: m.host, pid: m.pid, state: m.state,
                         partitions: membership.partitions(of: m.id),
                         lastHeartbeatMsAgo: now - m.lastSeenMs, report: m.report)
        }
        let k = config.kafka
        var s = ClusterStatus(cluster: config.cluster.name, bootstrap: bootstrap, inputTopic: k.inputTopic,
                              outputTopic: k.outputTopic, deadLetterTopic: k.deadLetterTopic,
                              partitionCount: membership.slots.count, unassigned: membership.unassigned,
                              workers: workers, uptimeMs: now - started)
        s.modelVersion = publishedVersion
        if let e = leaderEpoch {
            s.role = "active"
            s.leaderEpoch = e
            s.activeCoordinator = endpoint
        }
        s.keyField = config.features.key
        s.syncBytesPerSecond = syncBytesPerSecond
        s.rejectedDeltas = aggregator.rejected.values.reduce(0, +)
        if !relayDeltas.isEmpty { s.relays = relayDeltas }
        s.clippedDeltas = aggregator.clipped.values.reduce(0, +)
        s.rejectedScalers = aggregator.rejectedScalers.values.reduce(0, +)
        s.curve = zap != nil
        s.connectionsRefused = zap?.refused ?? 0
        s.messagesForbidden = forbiddenMessages
        s.messagesHandled = handledMessages
        s.messagesDropped = badMessages
        s.mergeEvaluations()
        s.models = lifecycle.statuses(liveReports)
        s.lifecycleLog = lifecycle.decisions
        s.checkpointProblem = checkpointStatus
        s.reference = reference?.monitor.report
        return s
    }
}

func printable(_ id: [UInt8]) -> String {
    if id.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: id, as: UTF8.self) }
    return "0x" + id.map { String(format: "%02x", $0) }.joined()
}
