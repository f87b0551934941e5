import Foundation
import Logging
import Wire
import ZeroMQ
import Runtime

/// The worker's I/O shell, control plane. One thread runs everything: the DEALER to the
/// coordinator, the metrics endpoint, and through its `PartitionDriver` (the data plane) the
/// Kafka consumer and producer. The decisions live in pure pieces they feed and obey:
/// `WorkerSession` (registration, lease, heartbeats, model sync) here, a `PartitionLifecycle`
/// per partition and `RecordRunner` in the driver. Nothing in the loop waits on the network
/// for longer than one poll: restores and committed lookups run off the loop, stops drain
/// across turns, and heartbeats go out meanwhile.
public final class WorkerService: PartitionDriverHost {
    let options: WorkerOptions
    var log: Logger
    let context = ZmqContext()
    let dealer: ZmqSocket
    /// To `options.relay`, when deltas go through this host's relay.
    let relaySocket: ZmqSocket?
    /// Deltas still to send straight to the coordinator after one sent through the relay was
    /// not merged; `unmergedSeen`: the session's count of those already acted on.
    var relayBypass = 0
    var unmergedSeen = 0
    let metricsServer: MetricsServer?
    var session: WorkerSession
    /// The data plane (made in `init`: it refers back to this shell).
    var driver: PartitionDriver!
    /// Events/s over the last heartbeat period: where the window started and the count then.
    var rateWindowStart = Clock.nowMs()
    var rateWindowCount: Int64 = 0
    /// Time blocked waiting for records while holding partitions (a starved pipeline shows here).
    var idleMs: Int64 = 0
    var waits = 0
    /// Figures published into the process's metrics registry at each scrape.
    let scrape = ScrapePublisher()
    /// Every coordinator (`--coordinator a,b`, issue 23), the one talked to, and the highest
    /// leader epoch seen: messages of a lower epoch come from a deposed coordinator and are
    /// ignored.
    var endpoints: [String] = []
    var current = 0
    var maxEpoch: Int64 = 0
    var lastSwitch: Int64 = 0
    var ignoredDeposed = 0

    public init(options: WorkerOptions) throws {
        self.options = options
        log = Log.logger("worker \(options.workerId)", level: options.logLevel ?? "info")
        session = WorkerSession(now: Clock.nowMs())
        dealer = try ZmqSocket(context, .dealer, lingerMs: 1000, maxMessageSize: 16 << 20)
        try dealer.setIdentity(Array(options.workerId.utf8))
        try dealer.setReconnect(minMs: 100, maxMs: 2000)
        metricsServer = try options.metricsBind.map { try MetricsServer(address: $0) }
        if let m = metricsServer, let bind = options.metricsBind, let colon = bind.lastIndex(of: ":") {
            log.info("metrics on http://\(bind[..<colon]):\(m.port)/metrics (probes /healthz, /readyz)")
        }
        endpoints = options.coordinator.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if endpoints.isEmpty { endpoints = [options.coordinator] }
        do { try dealer.connect(endpoints[0], curve: options.curve) } catch {
            throw ServiceError("cannot connect to coordinator \(endpoints[0]): \(error)")
        }
        if let relay = options.relay {
            let r = try ZmqSocket(context, .dealer, lingerMs: 1000, maxMessageSize: 16 << 20)
            try r.setIdentity(Array(options.workerId.utf8))
            try r.setReconnect(minMs: 100, maxMs: 2000)
            do { try r.connect(relay) } catch { throw ServiceError("cannot connect to relay \(relay): \(error)") }
            relaySocket = r
        } else {
            relaySocket = nil
        }
        driver = PartitionDriver(host: self, workerId: options.workerId, log: log)
    }

    // MARK: loop

    /// Runs until `shouldStop()`; then hands back every partition (delivered, committed)
    /// and tells the coordinator it leaves. Returns the process exit code.
    public func run(shouldStop: () -> Bool) -> Int32 {
        log.info("connecting to coordinator \(endpoints[current])\(endpoints.count > 1 ? " (of \(endpoints.joined(separator: ", ")))" : "")")
        var mayHaveMore = false
        while !shouldStop() {
            // One wait for everything: a control message, records (librdkafka's queue
            // wake-up fd), delivery reports, a metrics client, or the next tick. Never blocks
            // while records may be waiting.
            let kafkaFds = driver.wakeupFDs
            let fds = kafkaFds + (metricsServer?.fds ?? [])
            let waitStart = mayHaveMore ? 0 : Clock.nowMs()
            let ready = zmqPollReadable([dealer], fds: fds, timeoutMs: mayHaveMore ? 0 : (driver.idle ? 50 : 10))
            if !mayHaveMore && driver.holding { idleMs += Clock.nowMs() - waitStart; waits += 1 }
            driver.clearWakeups()
            if let m = metricsServer, ready.fds[kafkaFds.count...].contains(true) {
                m.serve(ready: session.welcomed && driver.allRunning) { WorkerMetrics.render(driver.currentReport(), into: scrape) }
            }
            let now = Clock.nowMs()
            execute(session.tick(now: now, holding: driver.holding))
            // Control plane first: assignments and revokes take effect before more data.
            if ready.sockets[0] {
                while let frames = try? dealer.receive(dontWait: true) { handleControl(frames) }
            }
            session.learnt(driver.takeLearnt())
            failoverIfSilent(now: now)
            execute(session.timers(now: now, holding: driver.holding))
            mayHaveMore = driver.turn(now: now, budgetMs: max(5, session.heartbeatMs / 4))
        }
        driver.stopAndDrain()
        if session.welcomed { leave() }
        driver.flush()
        log.info("stopped after \(driver.report.processed) records (\(driver.out.deadLetters) dead letters); waited for records \(idleMs) ms in \(waits) waits, \(driver.emptyPolls) empty polls")
        return 0
    }

    /// Carries out what the session decided.
    func execute(_ directives: [WorkerSession.Directive]) {
        for d in directives {
            switch d {
            case .sendHello: sendHello()
            case .warnUnanswered(let s):
                log.warning("no answer from the coordinator at \(endpoints[current]) for \(s) s: is it running and reachable? is another worker already using the id '\(options.workerId)'?")
            case .stopAll(.noHeartbeatSent(let ms)):
                log.warning("no heartbeat sent for \(ms) ms (lease \(session.leaseMs) ms): this worker was stopped or starved, and its partitions may belong to others now; stopping all partitions")
                driver.stopAll(ack: false)
            case .stopAll(.coordinatorSilent(let ms)):
                log.warning("no word from the coordinator for \(ms) ms (lease \(session.leaseMs) ms): stopping all partitions")
                driver.stopAll(ack: false)
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
        driver.report.eventsPerSecond = Double(driver.report.processed - rateWindowCount) * 1000 / Double(elapsed)
        rateWindowStart = now
        rateWindowCount = driver.report.processed
        send(.heartbeat(driver.currentReport()))
    }

    func sendDelta() {
        guard let m = driver.models, var d = session.makeDelta(parameters: m.parameters, scalerMoments: m.scalerMoments,
                                                         worker: options.workerId, now: Clock.nowMs(),
                                                         compression: driver.config?.model.deltaCompression ?? .none) else { return }
        if let taken = driver.models?.takeReference() { (d.reference, d.referenceDropped) = taken }
        if let fault = options.deltaFault {
            log.warning("fault injection: model delta \(d.seq) poisoned (\(fault.poison(&d)))")
        }
        // A delta sent through the relay and never merged: the relay may be down. The next 10
        // go straight to the coordinator, then the relay is tried again.
        if relaySocket != nil && session.unmerged > unmergedSeen {
            unmergedSeen = session.unmerged
            relayBypass = 10
            log.warning("a model delta sent through the relay \(options.relay ?? "") was not merged within 5 sync intervals: is the relay running? sending the next 10 straight to the coordinator")
        }
        if let relaySocket, relayBypass == 0 {
            do { try relaySocket.send(WireCodec.encode(.modelDelta(d)), dontWait: true) } catch {
                // Kept as progress: the session abandons an unmerged delta and sends it again.
                log.debug("send model delta to relay failed: \(error)")
            }
            return
        }
        relayBypass = max(0, relayBypass - 1)
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
        let held = driver.parts.values.map(\.lease).sorted { $0.partition < $1.partition }
        send(.hello(Hello(workerId: options.workerId, host: options.host, pid: getpid(), held: held)))
    }

    func send(_ m: WireMessage) {
        do { try dealer.send(WireCodec.encode(m), dontWait: true) } catch {
            log.debug("send \(m.typeName) failed: \(error)")
        }
    }

    /// Talks to `endpoint` from now on (a standby named it, or the current one is silent).
    func switchCoordinator(to endpoint: String, why: String) {
        let old = endpoints[current]
        guard endpoint != old else { return }
        if let i = endpoints.firstIndex(of: endpoint) { current = i } else {
            endpoints.append(endpoint)
            current = endpoints.count - 1
        }
        dealer.disconnect(old)
        do { try dealer.connect(endpoint, curve: options.curve) } catch {
            log.warning("cannot connect to coordinator \(endpoint): \(error)")
            return
        }
        lastSwitch = Clock.nowMs()
        log.info("coordinator \(endpoint) now (\(why)); holding \(driver.parts.count) partitions, lease left \(max(0, session.leaseMs - (lastSwitch - session.lastHeardMs))) ms")
        // Register there at once, with the partitions held (it adopts them).
        let d = session.reregister()
        execute(d.isEmpty ? [.sendHello] : d)
    }

    /// With several coordinators: silent for three heartbeats (and not switched as long ago),
    /// try the next one. The lease keeps running meanwhile; partitions stop only when it ends.
    func failoverIfSilent(now: Int64) {
        guard endpoints.count > 1 else { return }
        let patience = max(1000, 3 * session.heartbeatMs)
        guard now - session.lastHeardMs > patience, now - lastSwitch > patience else { return }
        switchCoordinator(to: endpoints[(current + 1) % endpoints.count], why: "\(endpoints[current]) silent for \(now - session.lastHeardMs) ms")
    }

    func handleControl(_ frames: [[UInt8]]) {
        let msg: WireMessage
        do { msg = try WireCodec.decode(frames[...]) } catch {
            log.warning("dropped a message from the coordinator: \(error)")
            return
        }
        if let epoch = WireCodec.epoch(of: frames[...]) {
            if epoch < maxEpoch {
                ignoredDeposed += 1
                if ignoredDeposed <= 10 || ignoredDeposed % 1000 == 0 {
                    log.warning("ignored \(msg.typeName) of leader epoch \(epoch): epoch \(maxEpoch) is active (\(ignoredDeposed) ignored so far)")
                }
                return
            }
            if epoch > maxEpoch {
                if maxEpoch > 0 { log.info("coordinator leader epoch \(epoch) (was \(maxEpoch))") }
                maxEpoch = epoch
            }
        }
        // A standby's redirect grants no lease: it is not the coordinator.
        if case .reregister(let r) = msg, let active = r.active {
            if (r.activeEpoch ?? 0) >= maxEpoch { switchCoordinator(to: active, why: "a standby named the active coordinator") }
            return
        }
        session.heard(now: Clock.nowMs())
        switch msg {
        case .welcome(let w):
            do { try adopt(w) } catch {
                log.error("cannot start Kafka clients for \(w.bootstrap): \(error)")
                session.welcomeFailed()
            }
        case .assign(let a): driver.start(a.partitions)
        case .revoke(let a): driver.stop(a.partitions.map(\.partition), ack: true)
        case .ping: break
        case .modelUpdate(let u): adopt(u)
        case .reregister(let r):
            let d = session.reregister()
            if !d.isEmpty { log.info("coordinator asks to register again (\(r.reason)); holding \(driver.parts.count) partitions") }
            execute(d)
        default:
            log.debug("ignored \(msg.typeName)")
        }
    }

    /// A new global version (see `ModelSet.adopt`), between two records, so every record is
    /// scored by exactly one champion.
    func adopt(_ sent: ModelUpdate) {
        guard driver.models != nil, let features = driver.config?.features else { return }
        guard let u = session.expand(sent) else {
            if driver.report.modelMissed == nil {
                log.info("model version \(sent.version) came as a difference from version \(sent.diffFrom ?? 0), this worker holds \(session.sync.version): asking for it whole")
            }
            driver.report.modelMissed = sent.version
            return
        }
        do throws(ModelAdoptError) {
            for note in try driver.models!.adopt(u, features: features, session: &session, worker: options.workerId) { log.info("\(note)") }
        } catch {
            log.warning("ignored model version \(u.version): \(error)")
            return
        }
        driver.report.modelVersion = u.version
        driver.modelAdoptedAt = Clock.nowMs()
        if let missed = driver.report.modelMissed, u.version >= missed { driver.report.modelMissed = nil }
    }

    func adopt(_ w: Welcome) throws {
        // The cluster's coordinators (`coordinator.endpoints`): the ones not given on the
        // command line are where to fail over to as well.
        for ep in w.coordinators ?? [] where !endpoints.contains(ep) {
            endpoints.append(ep)
            log.info("coordinator \(ep) added to the ones to fail over to (coordinator.endpoints)")
        }
        // The cluster's logging settings, unless this worker's flags set them.
        log.logLevel = Logger.Level(rawValue: options.logLevel ?? w.settings.cluster.logLevel) ?? .info
        Log.format = LogFormat(rawValue: options.logFormat ?? w.settings.cluster.logFormat) ?? .text
        driver.log.logLevel = log.logLevel
        defer { session.welcome(heartbeatMs: Int64(w.heartbeatMs), leaseMs: Int64(w.leaseMs), syncMs: Int64(w.settings.model.syncIntervalMs),
                                syncSamples: w.settings.model.syncEverySamples ?? 0, incarnation: w.incarnation, now: Clock.nowMs()) }
        guard try driver.configure(w), let m = driver.models else { return }
        // Synced: the weights, then the scaler's raw moments (summed cluster-wide).
        session.resetSync(version: w.modelVersion, base: m.parameters + m.scalerMoments)
    }
}
