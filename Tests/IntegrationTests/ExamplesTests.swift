import Foundation
import Testing

/// Issue 27's examples: each `examples/*/run.sh` runs end to end on the embedded broker with
/// 3,000 events, as a user would run it (the test only gives it the built binary).
@Suite("Examples", .serialized)
struct ExamplesTests {
    struct Run {
        var status: Int32
        var out: String
    }

    func run(_ example: String, script: String = "run.sh", events: Int = 3000) throws -> Run {
        let dir = NSTemporaryDirectory() + "example-\(example)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let status = sh("cd '\(dir)' && EVENTS=\(events) TRIBUTARY='\(tributaryBinary())' timeout 300 '\(repoRoot)/examples/\(example)/\(script)' > out.txt 2> err.txt")
        let out = (try? String(contentsOfFile: dir + "/out.txt", encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: dir + "/err.txt", encoding: .utf8)) ?? ""
        return Run(status: status, out: out + err)
    }

    /// The last status frame's figure after `label` (e.g. "accuracy 0.8123").
    func figure(_ text: String, _ label: String) -> Double? {
        guard let r = text.range(of: label + " ", options: .backwards) else { return nil }
        return Double(text[r.upperBound...].prefix { $0.isNumber || $0 == "." })
    }

    @Test("examples/tabular: 3,000 sessions, every one processed, the model learns (accuracy > 0.6), clean stop")
    func tabular() throws {
        let r = try run("tabular")
        #expect(r.status == 0, "\(r.out.suffix(2000))")
        #expect(r.out.contains("summary: 3000 events processed, 0 dead letters") && r.out.contains("all processes exited cleanly"),
                "\(r.out.suffix(2000))")
        #expect((figure(r.out, "accuracy") ?? 0) > 0.6, "\(r.out.suffix(1000))")
    }

    @Test("examples/tweets: 3,000 tweets from hashed unigrams and bigrams, the model learns sentiment (accuracy > 0.7), clean stop")
    func tweets() throws {
        let r = try run("tweets")
        #expect(r.status == 0, "\(r.out.suffix(2000))")
        #expect(r.out.contains("summary: 3000 events processed, 0 dead letters") && r.out.contains("all processes exited cleanly"),
                "\(r.out.suffix(2000))")
        #expect((figure(r.out, "accuracy") ?? 0) > 0.7, "\(r.out.suffix(1000))")
    }

    @Test("examples/tweets, pre-trained: a disaster-tweet classifier trained offline in scikit-learn and exported scores 3,000 new tweets (accuracy > 0.85 against 5 % label noise), clean stop")
    func tweetsPretrained() throws {
        let r = try run("tweets", script: "run-pretrained.sh")
        #expect(r.status == 0, "\(r.out.suffix(2000))")
        #expect(r.out.contains("trained offline on 1600 labelled tweets") && r.out.contains("exported to "), "\(r.out.prefix(1000))")
        #expect(r.out.contains("summary: 3000 events processed, 0 dead letters") && r.out.contains("all processes exited cleanly"),
                "\(r.out.suffix(2000))")
        #expect((figure(r.out, "accuracy") ?? 0) > 0.85, "\(r.out.suffix(1000))")
    }

    @Test("examples/fraud: 3,000 payments scored, every chargeback joined to the payment it was served for, payments without one learnt as legitimate after the horizon, clean stop")
    func fraud() throws {
        let r = try run("fraud")
        #expect(r.status == 0, "\(r.out.suffix(2000))")
        #expect(r.out.contains("summary: 3000 events processed, 0 dead letters") && r.out.contains("all processes exited cleanly"),
                "\(r.out.suffix(2000))")
        // The generator's "generated: N payments, M chargebacks".
        let chargebacks = r.out.split(separator: "\n").first { $0.hasPrefix("generated: ") }
            .flatMap { Int($0.split(separator: " ")[3]) }
        let joined = r.out.range(of: "labels: joined ", options: .backwards).flatMap { Int(r.out[$0.upperBound...].prefix { $0.isNumber }) }
        #expect(chargebacks != nil && chargebacks! > 0 && joined == chargebacks, "chargebacks \(String(describing: chargebacks)), joined \(String(describing: joined)): \(r.out.suffix(2000))")
        // Payments without a chargeback were learnt as legitimate once the horizon passed.
        let expired = r.out.range(of: " expired ", options: .backwards).flatMap { Int(r.out[$0.upperBound...].prefix { $0.isNumber }) }
        #expect((expired ?? 0) > 0, "\(r.out.suffix(1500))")
    }
}
