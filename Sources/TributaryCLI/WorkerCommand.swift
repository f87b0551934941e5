import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: consume assigned partitions, compute features, predict, learn, produce.")
    @Option(help: "The coordinator's endpoint, e.g. tcp://HOST:7400 (default: $TRIBUTARY_COORDINATOR, else tcp://127.0.0.1:7400).")
    var coordinator: String = BuildInfo.defaultCoordinator
    @Option(help: "Worker id (default HOSTNAME-PID); must be unique in the cluster.") var id: String?
    @Option(help: "Serve Prometheus metrics and probes on HOST:PORT (GET /metrics, /healthz, /readyz; port 0 = any free port; IPv6 as [::1]:PORT).") var metrics: String?
    @Option(help: "This host's relay (`tributary relay --bind`): model deltas go there and reach the coordinator combined with this host's other workers' (for many workers or big models).")
    var relay: String?
    @OptionGroup var security: CurveOptions
    @OptionGroup var logging: LogOptions
    @Option(help: ArgumentHelp("Fault injection for testing robust averaging: poison every model delta sent (nan, huge, mixed).",
                               visibility: .hidden))
    var injectDeltaFault: String?

    func run() async throws {
        KafkaProducer.keepFreedHeap()
        var o = WorkerOptions(coordinator: coordinator, workerId: id)
        if let f = injectDeltaFault {
            guard let fault = DeltaFault(rawValue: f) else { fail("--inject-delta-fault must be nan, huge or mixed; got '\(f)'") }
            o.deltaFault = fault
        }
        o.metricsBind = metrics
        o.relay = relay
        o.curve = security.client()
        o.logLevel = logging.logLevel
        o.logFormat = logging.logFormat
        if let f = logging.logFormat.flatMap(LogFormat.init(rawValue:)) { Log.format = f }
        let options = o
        let code = await LoopService.runUntilSignalled(label: "worker") { shouldStop in
            // Made on the loop's thread: its sockets and Kafka handles never cross threads.
            let w: WorkerService
            do { w = try WorkerService(options: options) } catch { fail("\(error)") }
            return w.run(shouldStop: shouldStop)
        }
        throw ExitCode(code)
    }
}
