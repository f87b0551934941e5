import Foundation
import Testing
import Kafka
import Wire

/// The walking skeleton as a user sees it: separate OS processes (coordinator with the
/// embedded Kafka broker, two workers, the generator), real Kafka protocol, real ZeroMQ.
@Suite("End to end", .serialized)
struct EndToEndTests {
    @Test("on Tansu (a real Kafka-protocol broker): every input offset gets exactly one output, a prediction or a dead letter with its reason; accuracy well above chance")
    func everyOffsetOnTansu() throws {
        let tansu = try Tansu()
        let cluster = try Cluster.start(config: "[kafka]\nbootstrap = \"\(tansu.bootstrap)\"\n[kafka.consumer]\n\"fetch.wait.max.ms\" = 10",
                                        env: tansu.env)
        let w1 = try cluster.worker("w1")
        let w2 = try cluster.worker("w2")
        try cluster.waitFor(seconds: 30, "2 workers sharing 4 partitions") { s in
            s.workers.count == 2 && s.workers.allSatisfy { $0.state == .up && $0.partitions.count == 2 }
        }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "5000", "--malformed", "0.05", "--seed", "7"],
                           env: cluster.env)
        #expect(gen.wait(seconds: 60) == 0, "generator failed: \(gen.log)")
        // Watermarks from the records themselves: this process's librdkafka (2.0.2) cannot talk to Tansu.
        let input = try readTopic(bootstrap: cluster.bootstrap, topic: "events")
        #expect(input.count == 5000)
        let highs = input.reduce(into: [Int32: Int64]()) { $0[$1.partition] = max($0[$1.partition] ?? 0, $1.offset + 1) }
        let done = try cluster.waitCommitted(highs, seconds: 90)
        #expect(done.totalProcessed == 5000)
        let predictions = try readTopic(bootstrap: cluster.bootstrap, topic: "predictions")
        let dead = try readTopic(bootstrap: cluster.bootstrap, topic: "events.dlq")
        var seen: [String: Int] = [:]
        var labelled = 0, correct = 0
        for r in predictions {
            let j = try #require(r.json)
            let p = try #require(j["partition"] as? Int), o = try #require(j["offset"] as? Int)
            seen["\(p):\(o)", default: 0] += 1
            if let y = j["label"] as? Int, let score = j["score"] as? Double {
                labelled += 1
                if (score > 0.5) == (y == 1) { correct += 1 }
            }
        }
        for d in dead {
            let p = try #require(Int(d.headers["tributary.source.partition"] ?? ""))
            let o = try #require(Int(d.headers["tributary.source.offset"] ?? ""))
            #expect(!(d.headers["tributary.reason"] ?? "").isEmpty)
            seen["\(p):\(o)", default: 0] += 1
        }
        let missing = input.filter { seen["\($0.partition):\($0.offset)"] != 1 }
        #expect(missing.isEmpty, "\(missing.count) offsets without exactly one output, e.g. \(missing.prefix(5).map { "\($0.partition):\($0.offset)" })")
        #expect(dead.count > 150 && dead.count < 350)
        #expect(Double(correct) / Double(max(1, labelled)) > 0.8)
        w1.signal(SIGTERM)
        w2.signal(SIGTERM)
        #expect(w1.wait(seconds: 20) == 0)
        #expect(w2.wait(seconds: 20) == 0)
    }

    @Test("every input offset gets exactly one output; accuracy well above chance; bad records dead-lettered")
    func everyOffsetHasAPrediction() throws {
        let cluster = try Cluster.start()
        let w1 = try cluster.worker("w1")
        let w2 = try cluster.worker("w2")

        // Both workers up, the 4 partitions assigned exactly once between them.
        let s = try cluster.waitFor(seconds: 20, "2 workers sharing 4 partitions") { s in
            s.workers.count == 2 && s.workers.allSatisfy { $0.state == .up && $0.partitions.count == 2 }
        }
        let owned = s.workers.flatMap { $0.partitions.map(\.partition) }.sorted()
        #expect(owned == [0, 1, 2, 3])
        #expect(s.unassigned.isEmpty)

        // 5,000 events, 5 % malformed of several kinds.
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "5000",
                                       "--malformed", "0.05", "--seed", "7"])
        #expect(gen.wait(seconds: 60) == 0, "generator failed: \(gen.log)")

        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let total = highs.values.reduce(0, +)
        #expect(total == 5000)
        let done = try cluster.waitCommitted(highs, seconds: 60)
        #expect(done.totalProcessed == total)

        let predictions = try readAll(bootstrap: cluster.bootstrap, topic: "predictions")
        let dead = try readAll(bootstrap: cluster.bootstrap, topic: "events.dlq")

        // Every (partition, offset) of the input has exactly one output: a prediction or a
        // dead letter, never both, never none.
        var seen: [String: Int] = [:]
        var labelled = 0, correct = 0
        for r in predictions {
            let j = try #require(r.json, "prediction is not JSON: \(String(decoding: r.value, as: UTF8.self))")
            let p = try #require(j["partition"] as? Int), o = try #require(j["offset"] as? Int)
            seen["\(p):\(o)", default: 0] += 1
            #expect(j["model_version"] is Int)
            #expect((j["key"] as? String)?.hasPrefix("u") == true)
            let score = try #require(j["score"] as? Double)
            #expect(score >= 0 && score <= 1)
            if let y = j["label"] as? Int {
                labelled += 1
                if (score > 0.5) == (y == 1) { correct += 1 }
            }
        }
        // Dead letters carry the original bytes, the reason and their source in headers;
        // each names an input offset that has no prediction.
        #expect(dead.count == Int(done.totalDeadLetters))
        let reasons = Set(["not_json", "not_object", "missing_field", "wrong_type", "not_finite"])
        for d in dead {
            #expect(reasons.contains(d.headers["tributary.reason"] ?? ""), "headers: \(d.headers)")
            #expect(!(d.headers["tributary.error"] ?? "").isEmpty)
            #expect(d.headers["tributary.source.topic"] == "events")
            let p = try #require(Int(d.headers["tributary.source.partition"] ?? ""))
            let o = try #require(Int(d.headers["tributary.source.offset"] ?? ""))
            #expect(seen["\(p):\(o)"] == nil, "dead letter for an offset that also has a prediction")
            #expect(o < Int(highs[Int32(p)] ?? 0))
        }
        let byReason = Dictionary(grouping: dead, by: { $0.headers["tributary.reason"] ?? "" }).mapValues(\.count)
        #expect(byReason.count >= 3, "several kinds of bad input: \(byReason)")
        #expect(dead.count > 150 && dead.count < 350, "expected ~5 % of 5000 malformed, got \(dead.count)")
        #expect(predictions.count + dead.count == Int(total))

        var missing: [String] = []
        var predicted = 0
        for (p, high) in highs {
            for o in 0..<high where seen["\(p):\(o)"] != 1 { missing.append("\(p):\(o)") }
            predicted += Int(high)
        }
        // Offsets without a prediction must be exactly the dead letters.
        #expect(missing.count == dead.count, "offsets without exactly one prediction: \(missing.prefix(10))")
        #expect(seen.values.allSatisfy { $0 == 1 }, "some offset got more than one prediction")

        // The model learns: progressive accuracy well above chance (Hyperplane, 5 % noise).
        let accuracy = Double(correct) / Double(max(1, labelled))
        #expect(labelled > 4500)  // every good record (≈ 4,750) was scored and learnt
        #expect(accuracy > 0.8, "progressive accuracy \(accuracy)")
        #expect(done.accuracy > 0.8)

        // Graceful stop: workers hand back, exit 0; coordinator exits 0.
        w1.signal(SIGTERM)
        w2.signal(SIGTERM)
        #expect(w1.wait(seconds: 20) == 0, "worker 1: \(w1.log)")
        #expect(w2.wait(seconds: 20) == 0, "worker 2: \(w2.log)")
        cluster.coordinator.signal(SIGTERM)
        #expect(cluster.coordinator.wait(seconds: 10) == 0)
    }

    @Test("status over ZeroMQ: tributary status prints both workers and every partition once")
    func statusCommand() throws {
        let cluster = try Cluster.start()
        let w1 = try cluster.worker("alpha")
        let w2 = try cluster.worker("beta")
        try cluster.waitFor(seconds: 20, "2 workers with partitions") { s in
            s.workers.count == 2 && s.workers.allSatisfy { !$0.partitions.isEmpty } && s.unassigned.isEmpty
        }
        let st = try Proc("status", ["status", "--coordinator", cluster.endpoint])
        #expect(st.wait(seconds: 10) == 0)
        let text = st.remainingOutput()
        #expect(text.contains("alpha") && text.contains("beta"), "status output:\n\(text)")
        #expect(text.contains("unassigned partitions: none"))
        #expect(text.contains(cluster.bootstrap), "status shows the bootstrap in use")

        let js = try Proc("status-json", ["status", "--coordinator", cluster.endpoint, "--json"])
        #expect(js.wait(seconds: 10) == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(js.remainingOutput().utf8)) as? [String: Any])
        let workers = try #require(obj["workers"] as? [[String: Any]])
        #expect(workers.count == 2)
        let partitions = workers.flatMap { ($0["partitions"] as? [[String: Any]] ?? []).compactMap { $0["partition"] as? Int } }
        #expect(partitions.sorted() == [0, 1, 2, 3])
        // The documented pyzmq example reads the same status.
        let py = Process()
        py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        py.arguments = ["python3", repoRoot + "/tools/status.py", cluster.endpoint]
        let pipe = Pipe()
        py.standardOutput = pipe
        try py.run()
        let pyOut = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        py.waitUntilExit()
        #expect(py.terminationStatus == 0, "tools/status.py: \(pyOut)")
        let resultLine = try #require(pyOut.split(separator: "\n").first { $0.hasPrefix("RESULT ") })
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(resultLine.dropFirst(7).utf8)) as? [String: Any])
        #expect(summary["workers"] as? Int == 2)
        #expect(summary["partitions"] as? [Int] == [0, 1, 2, 3])

        for w in [w1, w2] { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }

        // An absent coordinator: a clear error, not a hang.
        let none = try Proc("status-none", ["status", "--coordinator", "tcp://127.0.0.1:1"])
        #expect(none.wait(seconds: 20) == 2)
        #expect(none.log.contains("cannot read status from tcp://127.0.0.1:1"))
    }

    @Test("the README's Python example (confluent-kafka) produces 100 events to a live cluster and reads their 100 predictions")
    func pythonExample() throws {
        let readme = try String(contentsOfFile: repoRoot + "/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- python-kafka-example -->\n```python\n"))
        let end = try #require(readme.range(of: "```\n<!-- /python-kafka-example -->", range: start.upperBound..<readme.endIndex))
        let cluster = try Cluster.start()
        let w = try cluster.worker("py")
        try cluster.waitFor(seconds: 30, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let code = String(readme[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "BOOTSTRAP = \"127.0.0.1:9092\"", with: "BOOTSTRAP = \"\(cluster.bootstrap)\"")
        #expect(code.contains(cluster.bootstrap))
        let dir = NSTemporaryDirectory() + "py-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try code.write(toFile: dir + "/example.py", atomically: true, encoding: .utf8)
        #expect(sh("cd '\(dir)' && timeout 120 python3 example.py > out.txt 2> err.txt") == 0,
                "\((try? String(contentsOfFile: dir + "/err.txt", encoding: .utf8)) ?? "")")
        let out = (try? String(contentsOfFile: dir + "/out.txt", encoding: .utf8)) ?? ""
        #expect(out.hasPrefix("read 100 predictions"), "\(out)")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}
