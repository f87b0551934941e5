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
        let settings = cfg
        let code = await LoopService.runUntilSignalled(label: "coordinator") { shouldStop in
            // Made on the loop's thread: its sockets never cross threads.
            let service: CoordinatorService
            do { service = try CoordinatorService(config: settings) } catch { fail("\(error)") }
            say("coordinator \(service.endpoint) bootstrap \(service.bootstrap)"
                + (service.metrics.map { " metrics http://127.0.0.1:\($0.port)/metrics" } ?? ""))
            service.run(shouldStop: shouldStop)
            return 0
        }
        if code != 0 { throw ExitCode(code) }
    }
}
