import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

@main
struct Tributary: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Streaming machine learning on Apache Kafka.",
        discussion: """
        Start one coordinator per cluster and workers on any host; the coordinator assigns the
        input topic's partitions to workers. `tributary demo` runs everything locally.
        """,
        subcommands: [Demo.self, Coordinator.self, WorkerCommand.self, Status.self, Produce.self, BenchRestore.self,
                      Tail.self, ModelCommandGroup.self, Broker.self, Bench.self, ConfigCommand.self, KeysCommand.self])
}

/// Exit with a message a person can act on (no stack trace).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    Foundation.exit(2)
}

func loadConfig(_ path: String?) -> ClusterConfig {
    guard let path else { return ClusterConfig() }
    do { return try ClusterConfig.load(path: path) } catch { fail("\(error)") }
}

/// Prints a line to stdout and flushes (the demo and tests read these lines from pipes).
func say(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}

struct Coordinator: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the coordinator: membership, partition assignment, status (and the embedded broker).")
    @Option(help: "Path of cluster.conf (defaults apply when omitted).") var config: String?
    @Option(help: "Override coordinator.bind, e.g. tcp://0.0.0.0:7400 (tcp://127.0.0.1:* = any free port).")
    var bind: String?
    @Option(help: "Override kafka.bootstrap (\"embedded\" or host:port,...).") var bootstrap: String?

    func run() throws {
        Signals.installStopHandlers()
        var cfg = loadConfig(config)
        if let bind { cfg.coordinator.bind = bind }
        if let bootstrap { cfg.kafka.bootstrap = bootstrap }
        let service: CoordinatorService
        do { service = try CoordinatorService(config: cfg) } catch { fail("\(error)") }
        say("coordinator \(service.endpoint) bootstrap \(service.bootstrap)"
            + (service.metrics.map { " metrics http://127.0.0.1:\($0.port)/metrics" } ?? ""))
        service.run(shouldStop: { Signals.shouldStop })
    }
}

struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a worker: consume assigned partitions, compute features, predict, learn, produce.")
    @Option(help: "The coordinator's endpoint, e.g. tcp://HOST:7400.") var coordinator: String = "tcp://127.0.0.1:7400"
    @Option(help: "Worker id (default HOSTNAME-PID); must be unique in the cluster.") var id: String?
    @Option(help: "Serve Prometheus metrics on HOST:PORT (GET /metrics; port 0 = any free port).") var metrics: String?
    @OptionGroup var security: CurveOptions

    func run() throws {
        Signals.installStopHandlers()
        let w: WorkerService
        do {
            var o = WorkerOptions(coordinator: coordinator, workerId: id)
            o.metricsBind = metrics
            o.curve = security.client()
            w = try WorkerService(options: o)
        } catch { fail("\(error)") }
        let code = w.run(shouldStop: { Signals.shouldStop })
        throw ExitCode(code)
    }
}

struct Broker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the embedded Kafka broker (librdkafka's mock cluster) with the topics of cluster.conf.")
    @Option(help: "Path of cluster.conf.") var config: String?
    @Option(help: "Number of brokers.") var brokers: Int?
    @Option(help: "Fault injection: take every broker down this many seconds after start.") var outageAfter: Double?
    @Option(help: "Fault injection: how long the outage lasts (seconds).") var outageSeconds: Double = 10

    func run() throws {
        Signals.installStopHandlers()
        let cfg = loadConfig(config)
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
            while !Signals.shouldStop {
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
