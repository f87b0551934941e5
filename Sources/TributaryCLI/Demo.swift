import ArgumentParser
import Foundation
import Runtime
import Wire

/// A child `tributary` process of the demo.
final class Child {
    let name: String
    let process = Process()
    let stdout = Pipe()

    init(_ name: String, _ args: [String], logTo log: FileHandle?) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments = args
        process.standardOutput = stdout
        if let log { process.standardError = log }
        try process.run()
    }

    /// The first stdout line (the coordinator announces its endpoint this way).
    func firstLine() -> String? {
        var bytes: [UInt8] = []
        let h = stdout.fileHandleForReading
        while true {
            let d = h.readData(ofLength: 1)
            if d.isEmpty { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if d[0] == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(d[0])
        }
    }

    func terminate() { if process.isRunning { kill(process.processIdentifier, SIGTERM) } }

    /// Waits up to `seconds`; then kills. Returns the exit status (or nil if killed).
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a whole cluster locally: embedded broker, coordinator, workers, data generator, live status.")
    @Option(help: "Path of cluster.conf.") var config: String = "cluster.conf"
    @Option(help: "Number of workers.") var workers: Int = 2
    @Option(help: "Events to generate.") var events: Int = 50_000
    @Option(help: "Events per second (0 = as fast as possible).") var rate: Double = 10_000
    @Option(help: "Fraction of malformed events (they go to the dead-letter topic).") var malformed: Double = 0.01
    @Option(help: "Where the processes' logs go.") var logFile: String = "tributary-demo.log"

    func run() throws {
        Signals.installStopHandlers()
        guard workers >= 1 else { fail("--workers must be at least 1") }
        let cfgArgs = FileManager.default.fileExists(atPath: config) ? ["--config", config] : []
        if cfgArgs.isEmpty { say("(no \(config) here: using built-in defaults)") }
        else { _ = loadConfig(config) }  // fail early, with the key and line, on a bad file
        FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = FileHandle(forWritingAtPath: logFile)
        say("logs of all processes: \(logFile)")

        let coord = try Child("coordinator", ["coordinator"] + cfgArgs + ["--bind", "tcp://127.0.0.1:*"], logTo: log)
        guard let line = coord.firstLine(), line.hasPrefix("coordinator ") else {
            _ = coord.wait(seconds: 1)
            fail("the coordinator did not start; see \(logFile)")
        }
        let parts = line.split(separator: " ")
        let endpoint = String(parts[1])
        say("coordinator at \(endpoint), embedded Kafka at \(parts.count > 3 ? String(parts[3]) : "?")")
        var children = [coord]
        var ws: [Child] = []
        for i in 1...workers {
            let w = try Child("worker\(i)", ["worker", "--coordinator", endpoint, "--id", "worker-\(i)"], logTo: log)
            ws.append(w)
            children.append(w)
        }
        say("started \(workers) workers; producing \(events) events at \(rate > 0 ? String(format: "%.0f/s", rate) : "full speed")")
        let gen = try Child("produce", ["produce", "--coordinator", endpoint, "--count", String(events),
                                        "--rate", String(rate), "--malformed", String(malformed)], logTo: log)
        var last: ClusterStatus?
        var doneSince: Date?
        while !Signals.shouldStop {
            usleep(1_000_000)
            guard let s = try? fetchStatus(endpoint, timeoutMs: 1000, retries: 1) else { continue }
            last = s
            say("\n" + formatStatus(s))
            let expected = Int64(events)
            if !gen.process.isRunning && s.totalProcessed >= expected {
                doneSince = doneSince ?? Date()
                if Date().timeIntervalSince(doneSince!) > 1.5 { break }
            }
            if ws.allSatisfy({ !$0.process.isRunning }) { say("all workers exited; stopping"); break }
        }
        say("\nstopping: workers first (they finish, deliver, commit), then the coordinator")
        gen.terminate()
        _ = gen.wait(seconds: 5)
        for w in ws { w.terminate() }
        let codes = ws.map { $0.wait(seconds: 20) }
        coord.terminate()
        let cc = coord.wait(seconds: 10)
        if let s = last {
            let figures = s.metrics.filter { $0.key != "count" }.sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
            say("summary: \(s.totalProcessed) events processed, \(s.totalDeadLetters) dead letters; progressive \(s.task) quality: \(figures)")
        }
        let clean = codes.allSatisfy { $0 == 0 } && cc == 0
        say(clean ? "all processes exited cleanly" : "some processes did not exit cleanly: workers \(codes), coordinator \(String(describing: cc)); see \(logFile)")
        if !clean { throw ExitCode(1) }
    }
}
