import Foundation
import Config
import Kafka
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
    private var broker: EmbeddedBroker?
    private var admin: KafkaProducer?
    private var membership: Membership
    private let started = Clock.nowMs()
    private var badMessages = 0

    public init(config: ClusterConfig) throws {
        self.config = config
        log = Logger(label: "coordinator", level: .init(config.cluster.logLevel))
        let k = config.kafka
        var partitions = k.partitions
        if k.isEmbedded {
            let b = try EmbeddedBroker(brokers: k.embeddedBrokers)
            for t in [k.inputTopic, k.outputTopic, k.deadLetterTopic] {
                try b.createTopic(t, partitions: k.partitions)
            }
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
            for t in [k.inputTopic, k.outputTopic, k.deadLetterTopic] {
                if (try? a.partitionCount(topic: t, timeoutMs: 5000)) != nil { continue }
                do { try a.createTopic(t, partitions: k.partitions, timeoutMs: 5000) } catch {
                    log.warning("could not create topic \(t): \(error)")
                }
            }
            do { partitions = try a.partitionCount(topic: k.inputTopic) } catch {
                throw ServiceError("input topic \(k.inputTopic) at \(bootstrap): \(error)")
            }
            admin = a
        }
        router = try ZmqSocket(context, .router, maxMessageSize: 1 << 20)
        try router.setRouterMandatory()
        do { try router.bind(config.coordinator.bind) } catch {
            throw ServiceError("cannot listen on coordinator.bind = \(config.coordinator.bind): \(error)")
        }
        // Advertise what was configured, else the endpoint actually bound (resolves `:*`).
        endpoint = config.coordinator.advertise.isEmpty ? router.lastEndpoint : config.coordinator.advertise
        // After a restart, give workers that still run partitions one failure timeout to
        // re-register, so the existing map is adopted instead of reshuffled. A brand-new
        // cluster pays this once at start (a few seconds).
        let grace = Int64(min(config.coordinator.failureTimeoutMs, 3 * config.coordinator.heartbeatMs))
        membership = Membership(
            partitions: partitions,
            settings: .init(failureTimeoutMs: Int64(config.coordinator.failureTimeoutMs), startupGraceMs: grace),
            now: Clock.nowMs())
        log.info("listening on \(router.lastEndpoint) (workers connect to \(endpoint)); \(partitions) input partitions")
    }

    /// Runs until `shouldStop()` returns true (checked at least every 100 ms).
    public func run(shouldStop: () -> Bool) {
        var lastTick: Int64 = 0
        var lastPing: Int64 = 0
        var lastMetadata = Clock.nowMs()
        while !shouldStop() {
            if zmqPollReadable([router], timeoutMs: 50)[0] {
                // Drain what is there, bounded so ticks still happen under a flood.
                for _ in 0..<1000 {
                    guard let frames = try? router.receive(dontWait: true) else { break }
                    handle(frames)
                }
            }
            let now = Clock.nowMs()
            if now - lastTick >= 100 {
                lastTick = now
                execute(membership.handle(.tick, now: now))
            }
            if now - lastPing >= Int64(config.coordinator.heartbeatMs) {
                lastPing = now
                for (id, m) in membership.members where m.state != .dead {
                    send(to: id, .ping(Ping(nowMs: Clock.wallMs())))
                }
            }
            if let admin, now - lastMetadata >= 10_000 {
                lastMetadata = now
                if let n = try? admin.partitionCount(topic: config.kafka.inputTopic, timeoutMs: 2000) {
                    execute(membership.handle(.partitionCount(n), now: now))
                }
            }
        }
        log.info("stopping")
    }

    private func handle(_ frames: [[UInt8]]) {
        guard frames.count >= 2 else { badMessages += 1; return }
        let identity = frames[0]
        // REQ clients put an empty delimiter after the identity; DEALERs do not.
        var body = frames[1...]
        let isReq = body.first?.isEmpty == true
        if isReq { body = body.dropFirst() }
        let msg: WireMessage
        do { msg = try WireCodec.decode(body) } catch {
            badMessages += 1
            log.warning("dropped a message from \(printable(identity)): \(error) (\(badMessages) dropped so far)")
            reply(identity, isReq: isReq, .error(WireFailure(message: error.description)))
            return
        }
        if case .statusRequest = msg {
            reply(identity, isReq: isReq, .status(status()))
            return
        }
        let from = printable(identity)
        execute(membership.handle(.message(from: from, msg), now: Clock.nowMs()))
    }

    private func reply(_ identity: [UInt8], isReq: Bool, _ m: WireMessage) {
        let frames = isReq ? [identity, []] + WireCodec.encode(m) : [identity] + WireCodec.encode(m)
        try? router.send(frames, dontWait: true)
    }

    private func execute(_ directives: [Membership.Directive]) {
        for d in directives {
            switch d {
            case .log(let line): log.info(line)
            case .welcome(let to):
                let lease = config.worker.leaseMs > 0 ? config.worker.leaseMs : config.coordinator.failureTimeoutMs * 2 / 3
                send(to: to, .welcome(Welcome(workerId: to, bootstrap: bootstrap, config: config,
                                              heartbeatMs: config.coordinator.heartbeatMs, leaseMs: lease)))
            case .send(let to, let m): send(to: to, m)
            }
        }
    }

    private func send(to id: String, _ m: WireMessage) {
        do { try router.send([Array(id.utf8)] + WireCodec.encode(m), dontWait: true) } catch {
            log.debug("cannot reach \(id): \(error)")
        }
    }

    func status() -> ClusterStatus {
        let now = Clock.nowMs()
        let workers = membership.members.values.sorted { $0.id < $1.id }.map { m in
            WorkerStatus(workerId: m.id, host: m.host, pid: m.pid, state: m.state,
                         partitions: membership.partitions(of: m.id),
                         lastHeartbeatMsAgo: now - m.lastSeenMs, report: m.report)
        }
        let k = config.kafka
        return ClusterStatus(cluster: config.cluster.name, bootstrap: bootstrap, inputTopic: k.inputTopic,
                             outputTopic: k.outputTopic, deadLetterTopic: k.deadLetterTopic,
                             partitionCount: membership.slots.count, unassigned: membership.unassigned,
                             workers: workers, uptimeMs: now - started)
    }
}

func printable(_ id: [UInt8]) -> String {
    if id.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return String(decoding: id, as: UTF8.self) }
    return "0x" + id.map { String(format: "%02x", $0) }.joined()
}
