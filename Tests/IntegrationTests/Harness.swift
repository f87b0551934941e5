import Foundation
import Testing
import Kafka
import Wire
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// The built `tributary` executable: next to the test bundle (swift build puts every
/// product in one directory), or $TRIBUTARY_BIN.
func tributaryBinary() -> String {
    if let env = ProcessInfo.processInfo.environment["TRIBUTARY_BIN"] { return env }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("tributary").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    return "tributary-not-built-run-swift-build-first"
}

/// The first sanitizer report in a process's stderr (its first 40 lines), if any.
func sanitizerReport(_ log: String) -> String? {
    let markers = ["ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "ERROR: ThreadSanitizer", "runtime error:"]
    guard let r = markers.compactMap({ log.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) else { return nil }
    return log[r.lowerBound...].split(separator: "\n", omittingEmptySubsequences: false).prefix(40).joined(separator: "\n")
}

/// A real OS process running one `tributary` subcommand; killed at the latest on deinit,
/// so a failing test leaves no orphans.
final class Proc {
    let process = Process()
    let out = Pipe()
    let name: String
    private(set) var stderrPath: String

    /// - launcher: a command to run `tributary` under, e.g. `["ip", "netns", "exec", "hostB"]`.
    init(_ name: String, _ args: [String], env: [String: String] = [:], launcher: [String] = []) throws {
        self.name = name
        stderrPath = NSTemporaryDirectory() + "tributary-test-\(name)-\(UUID().uuidString.prefix(8)).log"
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        if launcher.isEmpty {
            process.executableURL = URL(fileURLWithPath: tributaryBinary())
            process.arguments = args
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = launcher + [tributaryBinary()] + args
        }
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        process.environment = e
        try process.run()
        LiveLogs.add(self)
    }

    deinit {
        LiveLogs.remove(self)
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // Under `scripts/sanitize` every child is built with ASan or TSan; a report in its
        // stderr fails the test that ran it, whatever else that test checked.
        if let report = sanitizerReport(log) {
            Issue.record("\(name): sanitizer report in \(stderrPath):\n\(report)")
        }
    }

    var pid: Int32 { process.processIdentifier }

    func readLine() -> String? {
        var bytes: [UInt8] = []
        let h = out.fileHandleForReading
        while true {
            let d = h.readData(ofLength: 1)
            if d.isEmpty { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if d[0] == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(d[0])
        }
    }

    func signal(_ sig: Int32) { if process.isRunning { kill(process.processIdentifier, sig) } }

    /// Waits for exit; nil if still running after `seconds`.
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    func remainingOutput() -> String {
        String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}

/// A coordinator (with its embedded broker) on a free port.
struct Cluster {
    let coordinator: Proc
    let endpoint: String
    let bootstrap: String
    /// The coordinator's first stdout line ("coordinator EP bootstrap B [metrics URL]").
    var coordinatorLine = ""
    /// Environment of every process of this cluster (e.g. Tansu's librdkafka).
    var env: [String: String] = [:]
    /// The config file the coordinator was started with (nil: defaults).
    var configPath: String?

    static func start(config: String? = nil, env: [String: String] = [:]) throws -> Cluster {
        var args = ["coordinator", "--bind", "tcp://127.0.0.1:*"]
        var path: String?
        if let config {
            let p = NSTemporaryDirectory() + "cluster-\(UUID().uuidString.prefix(8)).conf"
            try config.write(toFile: p, atomically: true, encoding: .utf8)
            args += ["--config", p]
            path = p
        }
        let c = try Proc("coordinator", args, env: env)
        guard let line = c.readLine(), line.hasPrefix("coordinator ") else {
            throw HarnessError("coordinator did not start: \(c.log)")
        }
        let parts = line.split(separator: " ").map(String.init)
        return Cluster(coordinator: c, endpoint: parts[1], bootstrap: parts[3], coordinatorLine: line, env: env, configPath: path)
    }

    func worker(_ id: String, args: [String] = []) throws -> Proc {
        try Proc(id, ["worker", "--coordinator", endpoint, "--id", id] + args, env: env)
    }

    /// - curve: this client's keys and the coordinator's (a coordinator with CURVE on).
    func status(curve: CurveClient? = nil) throws -> ClusterStatus { try Cluster.status(of: endpoint, curve: curve) }

    /// One coordinator's status (no retry: 3 s).
    static func status(of endpoint: String, curve: CurveClient? = nil) throws -> ClusterStatus {
        let ctx = ZmqContext()
        let req = try ZmqSocket(ctx, .req, lingerMs: 0)
        try req.connect(endpoint, curve: curve)
        try req.send(WireCodec.encode(.statusRequest(StatusRequest())))
        guard zmqPollReadable([req], timeoutMs: 3000)[0] else { throw HarnessError("no status answer") }
        guard case .status(let s) = try WireCodec.decode(try req.receive()[...]) else {
            throw HarnessError("unexpected status answer")
        }
        return s
    }

    /// Polls status until `ok` or the timeout; returns the last status.
    @discardableResult
    func waitFor(seconds: Double, _ what: String, curve: CurveClient? = nil, _ ok: (ClusterStatus) -> Bool) throws -> ClusterStatus {
        let deadline = Date().addingTimeInterval(seconds)
        var last: ClusterStatus?
        while Date() < deadline {
            if let s = try? status(curve: curve) {
                last = s
                if ok(s) { return s }
            }
            usleep(200_000)
        }
        let warnings = LiveLogs.warnings()
        throw HarnessError("timed out after \(seconds) s waiting for \(what); last status: \(last.map(\.brief) ?? "none")"
                           + (warnings.isEmpty ? "" : "\n" + warnings))
    }
}

extension ClusterStatus {
    /// One line per worker (state, partitions, processed, committed): enough to see why a wait
    /// timed out, without every histogram bin of the full value.
    var brief: String {
        "unassigned \(unassigned); " + workers.map { w in
            let parts = w.report?.partitions.map { "p\($0.partition)@\($0.epoch) pos \($0.position) committed \($0.committed)" } ?? []
            return "\(w.workerId) \(w.state) [\(parts.joined(separator: ", "))] processed \(w.report?.processed ?? 0)"
        }.joined(separator: "; ")
    }

    /// Committed offset ("next to read") per input partition, from live workers' reports.
    var committedByPartition: [Int32: Int64] {
        Dictionary(workers.filter { $0.state != .dead }.compactMap(\.report).flatMap(\.partitions)
            .map { ($0.partition, $0.committed) }, uniquingKeysWith: max)
    }
    /// Which worker owns each partition.
    var ownerByPartition: [Int32: String] {
        Dictionary(workers.flatMap { w in w.partitions.map { ($0.partition, w.workerId) } }, uniquingKeysWith: { a, _ in a })
    }
}

extension Cluster {
    /// Waits until every partition's commit reaches its high watermark: offsets are committed
    /// only after their outputs are delivered, so then every output is in Kafka.
    @discardableResult
    func waitCommitted(_ highs: [Int32: Int64], seconds: Double = 90) throws -> ClusterStatus {
        try waitFor(seconds: seconds, "every partition committed to its high watermark \(highs)") { s in
            let committed = s.committedByPartition
            return highs.allSatisfy { committed[$0.key] == $0.value }
        }
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// One record read back from a topic.
struct ReadRecord {
    var partition: Int32
    var offset: Int64
    var key: String
    var value: [UInt8]
    var headers: [String: String] = [:]
    /// The record's Kafka timestamp (readAll only).
    var timestampMs: Int64 = 0
    /// The value's length (readTopic with `sizes`, which leaves `value` empty).
    var size = 0
    var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(value))) as? [String: Any] }
}

/// Reads every record of `topic` from the beginning up to the high watermarks.
func readAll(bootstrap: String, topic: String, timeoutSeconds: Double = 30) throws -> [ReadRecord] {
    let c = try KafkaConsumer(config: KafkaClientConfig([
        "bootstrap.servers": bootstrap, "group.id": "test-reader-\(UUID().uuidString)", "fetch.wait.max.ms": "5",
    ]))
    let n = try c.partitionCount(topic: topic)
    let tps = (0..<n).map { TopicPartition(topic, Int32($0)) }
    var highs: [Int32: Int64] = [:]
    for tp in tps { highs[tp.partition] = try c.queryWatermarks(tp).high }
    try c.assign(tps, start: .beginning)
    var out: [ReadRecord] = []
    var next: [Int32: Int64] = [:]
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    while Date() < deadline && tps.contains(where: { (next[$0.partition] ?? 0) < highs[$0.partition]! }) {
        c.poll(timeoutMs: 100) { r in
            out.append(ReadRecord(partition: r.partition, offset: r.offset,
                                  key: String(decoding: r.key, as: UTF8.self), value: Array(r.value),
                                  headers: Dictionary(r.headers.map { ($0.0, String(decoding: $0.1, as: UTF8.self)) },
                                                      uniquingKeysWith: { a, _ in a }), timestampMs: r.timestampMs))
            next[r.partition] = r.offset + 1
        }
    }
    return out
}

/// Input high watermarks per partition.
func highWatermarks(bootstrap: String, topic: String) throws -> [Int32: Int64] {
    let c = try KafkaConsumer(config: KafkaClientConfig(["bootstrap.servers": bootstrap, "group.id": "test-wm"]))
    let n = try c.partitionCount(topic: topic)
    var out: [Int32: Int64] = [:]
    for p in 0..<n { out[Int32(p)] = try c.queryWatermarks(TopicPartition(topic, Int32(p))).high }
    return out
}

/// The repository's root (tools/, cluster.conf).
let repoRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Runs a shell command; returns its exit status.
@discardableResult
func sh(_ command: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// Tansu, the real Kafka-protocol broker of the exactly-once and real-broker tests.
typealias Tansu = TansuBroker

/// Reads a whole topic through tools/read_topic.py (confluent-kafka, librdkafka 2.16: works on
/// the embedded broker and on Tansu), read_committed unless told otherwise.
/// `sizes`: each value's length only (binary records such as model checkpoints).
func readTopic(bootstrap: String, topic: String, isolation: String = "read_committed", sizes: Bool = false) throws -> [ReadRecord] {
    let path = NSTemporaryDirectory() + "read-\(topic)-\(UUID().uuidString.prefix(8)).jsonl"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let status = sh("python3 \(repoRoot)/tools/read_topic.py --bootstrap \(bootstrap) --topic \(topic) --isolation \(isolation)\(sizes ? " --sizes" : "") > \(path)")
    guard status == 0 else { throw HarnessError("reading \(topic) from \(bootstrap) failed (exit \(status))") }
    let text = try String(contentsOfFile: path, encoding: .utf8)
    return try text.split(separator: "\n").map { line in
        guard let j = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let p = j["partition"] as? Int, let o = j["offset"] as? Int, let v = j["value"] as? String else {
            throw HarnessError("bad line from read_topic.py: \(line.prefix(200))")
        }
        return ReadRecord(partition: Int32(p), offset: Int64(o), key: j["key"] as? String ?? "", value: Array(v.utf8),
                          headers: j["headers"] as? [String: String] ?? [:], size: j["value_len"] as? Int ?? v.utf8.count)
    }
}
