import Foundation
import Logging
import Config
import Runtime
import Wire
import ZeroMQ

/// A coordinator waiting for the election (issue 23): it listens on its own address, tells
/// every worker that reaches it where the active coordinator is (a `reregister` naming it,
/// which grants no lease), answers status as "standby", and returns as soon as Kafka's group
/// protocol gives it the election partition. Nothing else: no membership, no assignment, no
/// model, so a standby can never act on the cluster.
public final class StandbyCoordinator {
    let config: ClusterConfig
    let context = ZmqContext()
    let router: ZmqSocket
    let log: Logger
    public let endpoint: String
    let started = Clock.nowMs()

    public init(config: ClusterConfig) throws {
        self.config = config
        log = Log.logger("coordinator", level: config.cluster.logLevel)
        router = try ZmqSocket(context, .router, lingerMs: 0, maxMessageSize: Int64(WireCodec.maxBodyBytes))
        do { try router.bind(config.coordinator.bind) } catch {
            throw ServiceError("cannot listen on coordinator.bind = \(config.coordinator.bind): \(error)")
        }
        endpoint = config.coordinator.advertise.isEmpty ? router.lastEndpoint : config.coordinator.advertise
    }

    /// Serves until this process holds the election partition (then returns true, the
    /// socket closed so the active service can bind the same address), or `shouldStop`.
    public func waitForElection(_ election: CoordinatorElection, shouldStop: () -> Bool) -> Bool {
        var lastRead: Int64 = 0
        var active = election.readActive()
        log.info("standby on \(endpoint): active coordinator \(active.map { "\($0.endpoint) (epoch \($0.epoch))" } ?? "not known yet")")
        while !shouldStop() {
            if election.poll().contains(.claim) {
                router.unbind(router.lastEndpoint)
                return true
            }
            let now = Clock.nowMs()
            if now - lastRead >= 1000 {
                lastRead = now
                let seen = election.readActive()
                if seen?.endpoint != active?.endpoint || seen?.epoch != active?.epoch {
                    active = seen
                    log.info("active coordinator: \(active.map { "\($0.endpoint) (epoch \($0.epoch))" } ?? "none")")
                }
            }
            guard zmqPollReadable([router], timeoutMs: 50)[0] else { continue }
            for _ in 0..<1000 {
                guard let frames = try? router.receive(dontWait: true), frames.count >= 2 else { break }
                answer(frames, active: active)
            }
        }
        router.unbind(router.lastEndpoint)
        return false
    }

    private func answer(_ frames: [[UInt8]], active: (endpoint: String, epoch: Int64)?) {
        let identity = frames[0]
        var body = frames[1...]
        let isReq = body.first?.isEmpty == true
        if isReq { body = body.dropFirst() }
        guard let msg = try? WireCodec.decode(body) else { return }
        let reply: WireMessage
        switch msg {
        case .statusRequest:
            let k = config.kafka
            var s = ClusterStatus(cluster: config.cluster.name, bootstrap: k.bootstrap, inputTopic: k.inputTopic,
                                  outputTopic: k.outputTopic, deadLetterTopic: k.deadLetterTopic, partitionCount: k.partitions,
                                  unassigned: [], workers: [], uptimeMs: Clock.nowMs() - started)
            s.role = "standby"
            s.leaderEpoch = active?.epoch
            s.activeCoordinator = active?.endpoint
            reply = .status(s)
        case .hello, .heartbeat, .modelDelta, .revoked:
            guard let a = active, a.endpoint != endpoint else { return }
            reply = .reregister(Reregister(reason: "this coordinator is a standby", active: a.endpoint, activeEpoch: a.epoch))
        case .modelCommand:
            reply = .error(WireFailure(message: "this coordinator is a standby; the active one is \(active?.endpoint ?? "not known yet")"))
        case .leaving(let l):
            reply = .left(l)
        default:
            return
        }
        let out = isReq ? [identity, []] + WireCodec.encode(reply) : [identity] + WireCodec.encode(reply)
        try? router.send(out, dontWait: true)
    }
}
