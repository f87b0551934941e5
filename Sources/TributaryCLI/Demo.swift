import ArgumentParser
import Foundation
import Runtime
import Wire

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
