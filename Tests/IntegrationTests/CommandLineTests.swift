import Foundation
import Testing
import Runtime

/// Issue 27's command-line habits, on real processes: `--version`, `TRIBUTARY_COORDINATOR`,
/// `produce --file -` as `kcat -P` reads, and `tail` as `tail` / `kcat -C` read.
@Suite("Command-line habits", .serialized)
struct CommandLineTests {
    @Test("tributary --version prints the version")
    func version() throws {
        let p = try Proc("version", ["--version"])
        let text = p.remainingOutput()
        #expect(p.wait(seconds: 20) == 0)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == BuildInfo.version, "\(text)")
    }

    @Test("TRIBUTARY_COORDINATOR is every command's coordinator: status, produce from standard input (-), tail of the newest records per partition, --from-beginning with a count, and --follow printing records written after it started")
    func habits() throws {
        let cluster = try Cluster.start(config: "[kafka]\npartitions = 2\n")
        let env = ["TRIBUTARY_COORDINATOR": cluster.endpoint]

        let status = try Proc("status", ["status"], env: env)
        let text = status.remainingOutput()
        #expect(status.wait(seconds: 20) == 0 && text.contains("total:"), "\(text) \(status.log)")

        func produce(_ users: Range<Int>) {
            let lines = users.map { #"{"user":"u\#($0)","x":{"f0":1},"y":1}"# }.joined(separator: "\n")
            let path = NSTemporaryDirectory() + "cli-\(UUID().uuidString.prefix(8)).jsonl"
            try? lines.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            // Piped, as `kcat -P` is fed: no file argument, no --bootstrap.
            #expect(sh("TRIBUTARY_COORDINATOR='\(cluster.endpoint)' '\(tributaryBinary())' produce --file - --topic cli < '\(path)'") == 0)
        }
        produce(0..<20)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "cli")
        #expect(highs.values.reduce(0, +) == 20)

        // The newest 3 of each partition, then it exits.
        let newest = try Proc("tail", ["tail", "cli", "--count", "3"], env: env)
        let shown = newest.remainingOutput().split(separator: "\n")
        #expect(newest.wait(seconds: 30) == 0)
        #expect(shown.count == highs.values.map { min(3, Int($0)) }.reduce(0, +), "\(shown)")
        for (p, high) in highs {
            let offsets = shown.filter { $0.hasPrefix("cli[\(p)]@") }.compactMap { Int64($0.split(separator: "@")[1].split(separator: " ")[0]) }
            #expect(offsets == Array(max(0, high - 3)..<high), "partition \(p): \(offsets)")
        }

        let first = try Proc("tail", ["tail", "cli", "--from-beginning", "--count", "4"], env: env)
        let early = first.remainingOutput().split(separator: "\n")
        #expect(first.wait(seconds: 30) == 0)
        #expect(early.count == 4 && early.allSatisfy { $0.contains("@0 ") || $0.contains("@1 ") || $0.contains("@2 ") || $0.contains("@3 ") }, "\(early)")

        // --follow: nothing old (count 0), then what is written while it runs.
        let follow = try Proc("tail", ["tail", "cli", "--count", "0", "--follow"], env: env)
        usleep(1_500_000)
        produce(100..<105)
        var seen: [Substring] = []
        let until = Date().addingTimeInterval(20)
        while Date() < until && follow.process.isRunning {
            usleep(500_000)
            if try highWatermarks(bootstrap: cluster.bootstrap, topic: "cli").values.reduce(0, +) == 25 { break }
        }
        usleep(1_500_000)
        follow.signal(SIGTERM)
        #expect(follow.wait(seconds: 20) == 0)
        seen = follow.remainingOutput().split(separator: "\n")
        #expect(seen.count == 5 && (100..<105).allSatisfy { u in seen.contains { $0.contains("\"u\(u)\"") } }, "\(seen)")
    }
}
