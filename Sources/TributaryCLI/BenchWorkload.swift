import ArgumentParser
import Foundation
import Config
import Features

/// A workload of `tributary bench` beside the default stream: one of the examples
/// (`examples/NAME`), its records made by the example's generator (labels inline), its topic,
/// and the job its `cluster.conf` describes.
struct BenchWorkload {
    /// "text" or "fraud": the Python peer's `--workload` and the name in results and ratios.
    var name: String
    var example: String
    var topic: String
    /// The records' key field (the example keys its topic by it).
    var key: String
    /// The JSON-lines file of records.
    var file: String

    static let all = [
        (name: "text", example: "tweets", topic: "tweets-online", key: "author"),
        (name: "fraud", example: "fraud", topic: "payments", key: "card"),
    ]

    /// Generates each workload's `events` records into `dir` with the example's generator.
    /// A workload whose generator fails is left out, and said.
    static func generate(examples: String, events: Int, into dir: String, log: FileHandle?, say: (String) -> Void) -> [BenchWorkload] {
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return all.compactMap { w in
            let file = dir + "/\(w.example).jsonl"
            let script = examples + "/\(w.example)/generate.py"
            // The tweets generator writes to stdout; the fraud one to files, chargebacks
            // unused (`--inline-labels` puts each payment's label in it).
            let arguments = w.example == "fraud" ? [String(events), file, dir + "/chargebacks.jsonl", "--inline-labels"] : [String(events)]
            let py = Process()
            py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            py.arguments = ["python3", script] + arguments
            if w.example != "fraud" {
                FileManager.default.createFile(atPath: file, contents: nil)
                py.standardOutput = FileHandle(forWritingAtPath: file)
            }
            py.standardError = log
            guard (try? py.run()) != nil else { say("workloads: cannot run \(script); \(w.name) skipped"); return nil }
            py.waitUntilExit()
            guard py.terminationStatus == 0 else { say("workloads: \(script) failed; \(w.name) skipped"); return nil }
            return BenchWorkload(name: w.name, example: w.example, topic: w.topic, key: w.key, file: file)
        }
    }

    /// The records, keyed by their key field, as the bench produces them.
    func records() throws -> [(key: String, value: [UInt8])] {
        try Self.records(file: file, key: key)
    }

    static func records(file: String, key: String) throws -> [(key: String, value: [UInt8])] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
        let keys = EventParser(keyPath: key, timestampPath: "", labelPath: "", numericPaths: [])
        var event = keys.makeEvent()
        return text.split(separator: "\n").map { line in
            let value = Array(line.utf8)
            return ((try? keys.parse(value, into: &event)) != nil ? event.key : "", value)
        }
    }

    /// The example's job for a Tributary run on `topic` (its [features] and [model]).
    func served(examples: String) throws -> ServedModel {
        try ServedModel.example(examples + "/" + example, name: "\(name) workload", topic: topic)
    }

    /// The example's whole config (the in-process pipeline reads its features and models).
    func config(examples: String) throws -> ClusterConfig {
        try ClusterConfig.load(path: examples + "/" + example + "/cluster.conf")
    }
}
