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
    @Option(help: "Send this JSON-lines file to the input topic instead of synthetic events (keyed by features.key).")
    var file: String?
    @Option(help: "With [labels]: send this JSON-lines file to the labels topic too (keyed by features.key).")
    var labelsFile: String?

    func run() throws {
        Signals.installStopHandlers()
        guard workers >= 1 else { fail("--workers must be at least 1") }
        // With files, the events expected are the input file's lines.
        var expected = Int64(events)
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { fail("cannot read --file \(file)") }
            expected = Int64(text.split(separator: "\n", omittingEmptySubsequences: true).count)
        }
        if let labelsFile, !FileManager.default.isReadableFile(atPath: labelsFile) { fail("cannot read --labels-file \(labelsFile)") }
        let labelsTopic = FileManager.default.fileExists(atPath: config) ? loadConfig(config).labels.topic : ""
        if labelsFile != nil && labelsTopic.isEmpty { fail("--labels-file needs a [labels] topic in \(config)") }
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
        say("started \(workers) workers; producing \(expected) events\(file.map { " from \($0)" } ?? "") at \(rate > 0 ? String(format: "%.0f/s", rate) : "full speed")")
        let gen = try Child("produce", ["produce", "--coordinator", endpoint, "--rate", String(rate)]
                                + (file.map { ["--file", $0] } ?? ["--count", String(events), "--malformed", String(malformed)]), logTo: log)
        var generators = [gen]
        if let labelsFile {
            say("and the labels of \(labelsFile) to \(labelsTopic)")
            generators.append(try Child("produce-labels", ["produce", "--coordinator", endpoint, "--file", labelsFile, "--topic", labelsTopic,
                                                           "--rate", String(rate)], logTo: log))
        }
        var last: ClusterStatus?
        var doneSince: Date?
        let header = "demo: \(workers) workers, \(expected) events\(file.map { " from \($0)" } ?? "") (logs in \(logFile)); Ctrl-C stops"
        LiveView.begin()
        while !Signals.shouldStop {
            usleep(1_000_000)
            guard let s = try? fetchStatus(endpoint, timeoutMs: 1000, retries: 1) else { continue }
            last = s
            LiveView.show(header + "\n\n" + formatStatus(s))
            if generators.allSatisfy({ !$0.process.isRunning }) && s.totalProcessed >= expected {
                doneSince = doneSince ?? Date()
                if Date().timeIntervalSince(doneSince!) > 1.5 { break }
            }
            if ws.allSatisfy({ !$0.process.isRunning }) { say("all workers exited; stopping"); break }
        }
        say("\nstopping: workers first (they finish, deliver, commit), then the coordinator")
        for g in generators { g.terminate() }
        for g in generators { _ = g.wait(seconds: 5) }
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
