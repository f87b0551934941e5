import ArgumentParser
import Foundation
import Coordinator
import Models
import Runtime
import Wire
import ZeroMQ

/// `tributary relay`: one per host in front of the coordinator, for the model deltas only
/// (issue 28: tree aggregation). Workers started with `--relay` send their deltas here; the
/// relay combines each round's (`DeltaCombiner`) and sends the coordinator one delta per
/// host. Everything else (registration, heartbeats, assignments, versions) stays between
/// each worker and the coordinator, so a relay holds no state worth keeping: restarted, it
/// combines again from the next round (a delta lost with it is abandoned by its worker after
/// five sync intervals and its progress sent again).
struct RelayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Combine the model deltas of this host's workers (started with --relay) into one per round before they reach the coordinator.")
    @Option(help: "The coordinator's endpoint (default: $TRIBUTARY_COORDINATOR, else tcp://127.0.0.1:7400).")
    var coordinator: String = BuildInfo.defaultCoordinator
    @Option(help: "Where this host's workers reach the relay (their --relay): ipc:// or a loopback address (the link is not encrypted).")
    var bind: String = "tcp://127.0.0.1:7410"
    @Option(help: "Relay id, unique in the cluster (default relay-HOSTNAME).") var id: String?
    @Option(help: "The cluster's [model] merge rule: average or sum.") var merge: String = "average"
    @Option(help: "Send what arrived this long after the first delta of a round, if some of the host's workers are still to send (ms).")
    var maxWaitMs: Int = 500
    @Option(help: "How the combined dense delta travels to the coordinator: none (float64), float16 or int8 (what rounding leaves out goes with the next one).")
    var compression: String = "none"
    @Option(help: "The cluster's [model] robust_averaging over this host's deltas: clip, reject or off.") var robustAveraging: String = "clip"
    @Option(help: "The cluster's [model] robust_factor.") var robustFactor: Double = 3
    @OptionGroup var security: CurveOptions
    @OptionGroup var logging: LogOptions

    func run() throws {
        Signals.installStopHandlers()
        guard let rule = MergeRule(rawValue: merge) else { fail("--merge must be average or sum, got '\(merge)'") }
        guard let c = DeltaCompression(rawValue: compression) else { fail("--compression must be none, float16 or int8, got '\(compression)'") }
        guard let mode = RobustPolicy.Mode(rawValue: robustAveraging) else { fail("--robust-averaging must be clip, reject or off, got '\(robustAveraging)'") }
        guard robustFactor >= 1.5 else { fail("--robust-factor must be >= 1.5, got \(robustFactor)") }
        guard maxWaitMs >= 0 else { fail("--max-wait-ms must be >= 0, got \(maxWaitMs)") }
        let name = id ?? "relay-\(ProcessInfo.processInfo.hostName)"
        let log = Log.logger("relay \(name)", level: logging.logLevel ?? "info")
        if let f = logging.logFormat.flatMap(LogFormat.init(rawValue:)) { Log.format = f }
        let context = ZmqContext()
        let workers: ZmqSocket, upstream: ZmqSocket
        do {
            workers = try ZmqSocket(context, .router, maxMessageSize: Int64(WireCodec.maxBodyBytes))
            try workers.bind(bind)
            upstream = try ZmqSocket(context, .dealer, lingerMs: 2000, maxMessageSize: 16 << 20)
            try upstream.setIdentity(Array(name.utf8))
            try upstream.setReconnect(minMs: 100, maxMs: 2000)
            try upstream.connect(coordinator, curve: security.client())
        } catch { fail("relay on \(bind) to \(coordinator): \(error)") }
        say("relay \(workers.lastEndpoint) coordinator \(coordinator)")

        var combiner = DeltaCombiner(id: name, settings: .init(rule: rule, maxWaitMs: Int64(maxWaitMs), compression: c,
                                                                robust: RobustPolicy(mode: mode, factor: robustFactor)))
        var sent = 0, refused = 0, failed = 0
        func forward(_ d: ModelDelta) {
            do {
                try upstream.send(WireCodec.encode(.modelDelta(d)), dontWait: true)
                sent += 1
                log.debug("sent delta \(d.seq): \(d.members?.count ?? 0) workers, \(d.samples) samples")
            } catch {
                // The workers' deltas in it are abandoned by them and their progress sent again.
                failed += 1
                if failed <= 10 || failed % 1000 == 0 { log.warning("cannot reach the coordinator \(coordinator): \(error) (\(failed) combined deltas lost so far)") }
            }
        }
        while !Signals.shouldStop {
            let ready = zmqPollReadable([workers, upstream], timeoutMs: 20)
            if ready[0] {
                while let frames = try? workers.receive(dontWait: true) {
                    guard frames.count >= 2 else { continue }
                    let from = String(decoding: frames[0], as: UTF8.self)
                    do {
                        guard case .modelDelta(let d) = try WireCodec.decode(frames[1...]) else {
                            refused += 1
                            if refused <= 10 { log.warning("\(from) sent something else than a model delta: workers send only deltas to a relay") }
                            continue
                        }
                        if let why = combiner.add(d, now: Clock.nowMs()), combiner.rejected <= 10 || combiner.rejected % 1000 == 0 {
                            log.warning("refused the model delta \(d.seq) of \(from): \(why) (\(combiner.rejected) refused so far)")
                        }
                    } catch {
                        refused += 1
                        if refused <= 10 || refused % 1000 == 0 { log.warning("dropped a message from \(from): \(error) (\(refused) dropped so far)") }
                    }
                }
            }
            if ready[1] {
                while let frames = try? upstream.receive(dontWait: true) {
                    if case .error(let f)? = try? WireCodec.decode(frames[...]) { log.warning("the coordinator said: \(f.message)") }
                }
            }
            if let d = combiner.flush(now: Clock.nowMs()) { forward(d) }
            for line in combiner.notes { log.warning("\(line)") }
            combiner.notes.removeAll()
        }
        if let d = combiner.flush(now: Clock.nowMs(), force: true) { forward(d) }
        log.info("stopped: \(combiner.combined) worker deltas combined into \(sent) sent to the coordinator, \(refused + combiner.rejected) refused, \(combiner.outliers) clipped or rejected as outliers, \(failed) lost")
    }
}
