import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

/// The process entry: swift-log and swift-metrics get their backends before any command makes
/// a logger or a metric, then the command line runs.
@main
enum Entry {
    static func main() async {
        Log.bootstrap()
        ProcessMetrics.bootstrap()
        await Tributary.main()
    }
}

struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Streaming machine learning on Apache Kafka.",
        discussion: """
        Start one coordinator per cluster and workers on any host; the coordinator assigns the
        input topic's partitions to workers. `tributary demo` runs everything locally.
        """,
        subcommands: [Demo.self, Coordinator.self, WorkerCommand.self, Status.self, Produce.self, BenchRestore.self,
                      Tail.self, ModelCommandGroup.self, Replay.self, Broker.self, Bench.self, ConfigCommand.self, KeysCommand.self])
}

/// Exit with a message a person can act on (no stack trace).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    // At once, without exit handlers: the command is abandoned mid-way, and LeakSanitizer's
    // exit check would report what it still held as leaks (sanitizer runs, issue 10).
    fflush(nil)  // every C stream (print goes through stdout)
    _exit(2)
}

func loadConfig(_ path: String?) -> ClusterConfig {
    guard let path else { return ClusterConfig() }
    do { return try ClusterConfig.load(path: path) } catch { fail("\(error)") }
}

/// Prints a line to stdout and flushes (the demo and tests read these lines from pipes).
func say(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}

/// `--log-level` and `--log-format`, overriding cluster.conf's `log_level` and `log_format`.
struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning or error (overrides cluster.conf's log_level).")
    var logLevel: String?
    @Option(help: "Log format: text, or json (one object per line) (overrides cluster.conf's log_format).")
    var logFormat: String?

    func validate() throws {
        let levels = ClusterConfig.ClusterSection.logLevels
        if let logLevel, !levels.contains(logLevel) {
            throw ValidationError("--log-level must be one of \(levels.joined(separator: ", ")); got '\(logLevel)'")
        }
        if let logFormat, LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json; got '\(logFormat)'")
        }
    }
}

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

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: consume assigned partitions, compute features, predict, learn, produce.")
    @Option(help: "The coordinator's endpoint, e.g. tcp://HOST:7400.") var coordinator: String = "tcp://127.0.0.1:7400"
    @Option(help: "Worker id (default HOSTNAME-PID); must be unique in the cluster.") var id: String?
    @Option(help: "Serve Prometheus metrics and probes on HOST:PORT (GET /metrics, /healthz, /readyz; port 0 = any free port; IPv6 as [::1]:PORT).") var metrics: String?
    @OptionGroup var security: CurveOptions
    @OptionGroup var logging: LogOptions
    @Option(help: ArgumentHelp("Fault injection for testing robust averaging: poison every model delta sent (nan, huge, mixed).",
                               visibility: .hidden))
    var injectDeltaFault: String?

    func run() async throws {
        var o = WorkerOptions(coordinator: coordinator, workerId: id)
        if let f = injectDeltaFault {
            guard let fault = DeltaFault(rawValue: f) else { fail("--inject-delta-fault must be nan, huge or mixed; got '\(f)'") }
            o.deltaFault = fault
        }
        o.metricsBind = metrics
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

struct Broker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the embedded Kafka broker (librdkafka's mock cluster) with the topics of cluster.conf.")
    @Option(help: "Path of cluster.conf.") var config: String?
    @Option(help: "Number of brokers.") var brokers: Int?
    @Option(help: "Fault injection: take every broker down this many seconds after start.") var outageAfter: Double?
    @Option(help: "Fault injection: how long the outage lasts (seconds).") var outageSeconds: Double = 10

    func run() async throws {
        let cfg = loadConfig(config)
        let (brokers, outageAfter, outageSeconds) = (brokers, outageAfter, outageSeconds)
        let code = await LoopService.runUntilSignalled(label: "broker") { shouldStop in
            Self.serve(cfg, brokers: brokers, outageAfter: outageAfter, outageSeconds: outageSeconds, shouldStop: shouldStop)
            return 0
        }
        if code != 0 { throw ExitCode(code) }
    }

    static func serve(_ cfg: ClusterConfig, brokers: Int?, outageAfter: Double?, outageSeconds: Double, shouldStop: () -> Bool) {
        let k = cfg.kafka
        do {
            let n = brokers ?? k.embeddedBrokers
            let b = try EmbeddedBroker(brokers: n)
            for t in [k.inputTopic, k.outputTopic, k.deadLetterTopic, k.effectiveChangelogTopic] { try b.createTopic(t, partitions: k.partitions) }
            try b.createTopic(k.modelTopic, partitions: 1)
            say("bootstrap \(b.bootstrap)")
            FileHandle.standardError.write(Data("embedded broker running (\(k.partitions) partitions per topic); Ctrl-C stops it\n".utf8))
            let start = Clock.nowMs()
            var down = false, done = outageAfter == nil
            while !shouldStop() {
                usleep(100_000)
                guard !done, let after = outageAfter else { continue }
                let t = Double(Clock.nowMs() - start) / 1000
                if !down && t >= after {
                    for id in 1...n { try b.setBroker(Int32(id), up: false) }
                    down = true
                    FileHandle.standardError.write(Data("fault injection: all \(n) brokers down for \(outageSeconds) s\n".utf8))
                } else if down && t >= after + outageSeconds {
                    for id in 1...n { try b.setBroker(Int32(id), up: true) }
                    done = true
                    FileHandle.standardError.write(Data("fault injection: brokers up again\n".utf8))
                }
            }
        } catch { fail("\(error)") }
    }
}

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with cluster.conf.", subcommands: [Check.self])
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a cluster.conf; errors name the key and line.")
        @Argument(help: "Path of the file.") var file: String = "cluster.conf"
        func run() throws {
            let cfg = loadConfig(file)
            say("\(file): OK (input \(cfg.kafka.inputTopic), \(cfg.features.width) model inputs, bootstrap \(cfg.kafka.bootstrap))")
        }
    }
}
