import Foundation
import Testing

/// SIGTERM on every process kind: exit 0, nothing lost, no orphaned processes.
@Suite("Graceful shutdown", .serialized)
struct ShutdownTests {
    func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

    /// Children started by any thread of `pid` (the kernel lists them per thread; commands
    /// run on the concurrency pool, not on the main thread).
    func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { tid -> [Int32] in
            let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/children", encoding: .utf8)) ?? ""
            return text.split(separator: " ").compactMap { Int32($0) }
        }
    }

    @Test("broker, coordinator, worker, producer and status --watch stop cleanly on SIGTERM")
    func everyKind() throws {
        let conf = NSTemporaryDirectory() + "stop-\(getpid()).conf"
        try "[kafka]\npartitions = 2".write(toFile: conf, atomically: true, encoding: .utf8)
        let broker = try Proc("broker", ["broker", "--config", conf])
        let bootstrap = String(try #require(broker.readLine()).dropFirst("bootstrap ".count))
        // Its logs as JSON lines, at debug level, from flags (cluster.conf says text and info).
        let coord = try Proc("coordinator", ["coordinator", "--config", conf, "--bind", "tcp://127.0.0.1:*", "--bootstrap", bootstrap,
                                             "--log-format", "json", "--log-level", "debug"])
        let endpoint = try #require(coord.readLine()).split(separator: " ").map(String.init)[1]
        let cluster = Cluster(coordinator: coord, endpoint: endpoint, bootstrap: bootstrap)
        let worker = try cluster.worker("s1")
        try cluster.waitFor(seconds: 20, "worker up") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let watch = try Proc("watch", ["status", "--coordinator", endpoint, "--watch"])
        let gen = try Proc("produce", ["produce", "--bootstrap", bootstrap, "--count", "1000000", "--rate", "2000"])
        usleep(2_000_000)

        // The producer stops sending, delivers what it sent, and says so.
        gen.signal(SIGTERM)
        #expect(gen.wait(seconds: 30) == 0, "\(gen.log)")
        let summary = gen.remainingOutput()
        #expect(summary.contains("failed 0, undelivered 0"), "\(summary)")
        let sent = try #require(summary.split(separator: " ").dropFirst().first.flatMap { Int($0) })
        #expect(sent > 1000 && sent < 1_000_000)

        // Every sent record is processed and committed before the worker is stopped.
        let highs = try highWatermarks(bootstrap: bootstrap, topic: "events")
        #expect(Int(highs.values.reduce(0, +)) == sent)
        try cluster.waitCommitted(highs, seconds: 30)
        for p in [watch, worker, coord, broker] {
            p.signal(SIGTERM)
            #expect(p.wait(seconds: 20) == 0, "\(p.name) did not exit 0: \(p.log.suffix(500))")
        }
        // Every line of ours is one JSON object (librdkafka's own lines start with "%").
        let lines = coord.log.split(separator: "\n").filter { !$0.hasPrefix("%") }
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(!lines.isEmpty && objects.count == lines.count, "\(lines.prefix(5))")
        #expect(objects.contains { $0["label"] == "coordinator" && $0["level"] == "info" && ($0["message"] ?? "").contains("joined") })
        #expect(objects.contains { $0["level"] == "debug" }, "debug lines shown at --log-level debug")
    }

    @Test("tributary demo stops every child on SIGTERM and leaves none behind")
    func demo() throws {
        let dir = NSTemporaryDirectory() + "demo-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let d = Process()
        d.executableURL = URL(fileURLWithPath: tributaryBinary())
        d.arguments = ["demo", "--config", repoRoot + "/cluster.conf", "--events", "1000000", "--rate", "2000",
                       "--log-file", dir + "/demo.log"]
        d.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        d.standardOutput = out
        d.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try d.run()
        // Wait until the demo shows live status with both workers.
        let reader = out.fileHandleForReading
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline && !(text.contains("worker-1") && text.contains("worker-2") && text.contains("total:")) {
            text += String(decoding: reader.availableData, as: UTF8.self)
        }
        let kids = children(of: d.processIdentifier)
        #expect(kids.count == 4, "coordinator, 2 workers, generator: \(kids)")
        kill(d.processIdentifier, SIGTERM)
        d.waitUntilExit()
        text += String(decoding: reader.readDataToEndOfFile(), as: UTF8.self)
        #expect(d.terminationStatus == 0, "\(text.suffix(1500))")
        #expect(text.contains("all processes exited cleanly"))
        usleep(200_000)
        for k in kids { #expect(!alive(k), "child \(k) outlived the demo") }
    }

    @Test("a worker whose coordinator never answers says why, and still stops cleanly")
    func unansweredWorker() throws {
        let w = try Proc("lonely", ["worker", "--coordinator", "tcp://127.0.0.1:1", "--id", "lonely"])
        let deadline = Date().addingTimeInterval(10)
        while !w.log.contains("no answer from the coordinator") && Date() < deadline { usleep(200_000) }
        #expect(w.log.contains("no answer from the coordinator at tcp://127.0.0.1:1"), "\(w.log)")
        #expect(w.log.contains("another worker already using the id 'lonely'"))
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 10) == 0)
    }
}
