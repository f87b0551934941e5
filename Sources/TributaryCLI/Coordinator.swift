import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

struct Coordinator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the coordinator: membership, partition assignment, status (and the embedded broker).")
    @Option(help: "Path of cluster.conf (defaults apply when omitted).") var config: String?
    @Option(help: "Override coordinator.bind, e.g. tcp://0.0.0.0:7400 (tcp://127.0.0.1:* = any free port).")
    var bind: String?
    @Option(help: "Override kafka.bootstrap (\"embedded\" or host:port,...).") var bootstrap: String?
    @OptionGroup var logging: LogOptions

    func run() async throws {
        var cfg = loadConfig(config)
        if let bind { cfg.coordinator.bind = bind }
        if let bootstrap { cfg.kafka.bootstrap = bootstrap }
        if let level = logging.logLevel { cfg.cluster.logLevel = level }
        Log.format = LogFormat(rawValue: logging.logFormat ?? cfg.cluster.logFormat) ?? .text
        if let (key, message) = cfg.electionProblem() { fail("\(key): \(message)") }
        let settings = cfg
        let code = await LoopService.runUntilSignalled(label: "coordinator") { shouldStop in
            // Made on the loop's thread: its sockets never cross threads.
            var epoch: Int64?
            var election: CoordinatorElection?
            if settings.coordinator.electing {
                // Standby until Kafka's group protocol gives this process the election partition.
                let e: CoordinatorElection
                let standby: StandbyCoordinator
                do {
                    standby = try StandbyCoordinator(config: settings)
                    e = try CoordinatorElection(config: settings, endpoint: standby.endpoint)
                } catch { fail("\(error)") }
                say("standby \(standby.endpoint) bootstrap \(settings.kafka.bootstrap)")
                guard standby.waitForElection(e, shouldStop: shouldStop) else { return 0 }
                do {
                    guard case .becomeActive(let n)? = try e.claim().first else { fail("the election partition was lost while claiming it") }
                    epoch = n
                } catch { fail("claiming the election on \(settings.electionTopic): \(error)") }
                election = e
            }
            let service: CoordinatorService
            do { service = try CoordinatorService(config: settings, leaderEpoch: epoch) } catch { fail("\(error)") }
            say("coordinator \(service.endpoint) bootstrap \(service.bootstrap)"
                + (service.metrics.map { " metrics http://127.0.0.1:\($0.port)/metrics" } ?? "")
                + (epoch.map { " active epoch \($0)" } ?? ""))
            var deposed: Int64?
            service.run {
                if shouldStop() { return true }
                // Leadership is checked every pass: a coordinator that lost the partition
                // (stopped, cut off) stops acting at once; its late messages carry an old
                // epoch, which workers ignore.
                if let e = election, case .stepDown(let n)? = e.poll().first { deposed = n; return true }
                return false
            }
            if service.steppedDown { deposed = epoch }
            if let n = deposed {
                FileHandle.standardError.write(Data("coordinator: lost the election partition (epoch \(n)): another coordinator is active; exiting (restart this one as a standby)\n".utf8))
                return 3
            }
            return 0
        }
        if code != 0 { throw ExitCode(code) }
    }
}
