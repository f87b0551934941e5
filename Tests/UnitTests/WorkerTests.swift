import Foundation
import Testing
@testable import Worker
import Features

@Suite("Worker pure parts")
struct WorkerTests {
    @Test("commit point advances only over a delivered prefix, whatever the report order")
    func tracker() {
        var t = OffsetTracker()
        for o in Int64(10)..<Int64(15) { t.produced(o) }
        #expect(t.committable == nil)
        t.delivered(12)
        t.delivered(11)
        #expect(t.committable == nil)  // 10 not yet delivered
        t.delivered(10)
        #expect(t.committable == 13)   // 10, 11, 12 delivered -> next to read is 13
        #expect(t.pending == 2)
        #expect(t.delivered(99) == false)
        t.delivered(14)
        #expect(t.committable == 13)
        t.delivered(13)
        #expect(t.committable == 15)
        #expect(t.pending == 0)
    }

    @Test("a partition resumed at a feature checkpoint is committable there before any new record, and only over delivered outputs after")
    func trackerResumed() {
        var t = OffsetTracker(resumingAt: 2489)
        #expect(t.committable == 2489)
        #expect(t.pending == 0)
        t.produced(2489)
        t.produced(2490)
        t.delivered(2490)
        #expect(t.committable == 2489)  // 2489 still in flight
        t.delivered(2489)
        #expect(t.committable == 2491)
    }

    @Test("tracker stays correct across compaction with many offsets")
    func trackerMany() {
        var t = OffsetTracker()
        for o in Int64(0)..<Int64(20_000) { t.produced(o) }
        for o in stride(from: Int64(19_999), through: 0, by: -1) where o % 2 == 1 { t.delivered(o) }
        #expect(t.committable == nil)
        for o in stride(from: Int64(0), to: 20_000, by: 2) { t.delivered(o) }
        #expect(t.committable == 20_000)
        #expect(t.pending == 0)
    }

    @Test("prediction output is valid JSON with every field")
    func output() throws {
        var w = OutputWriter()
        w.prediction(partition: 3, offset: 42, key: "u\"7\n", score: 0.125, label: 1, modelVersion: 5,
                     worker: "w-1", epoch: 2, timestamp: 1700000000.042)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        #expect(obj["partition"] as? Int == 3)
        #expect(obj["offset"] as? Int == 42)
        #expect(obj["key"] as? String == "u\"7\n")
        #expect(obj["score"] as? Double == 0.125)
        #expect(obj["label"] as? Int == 1)
        #expect(obj["model_version"] as? Int == 5)
        #expect(obj["epoch"] as? Int == 2)
        #expect(obj["ts"] as? Double == 1700000000.042)
        w.prediction(partition: 0, offset: -1, key: "", score: .nan, label: nil, modelVersion: 0, worker: "", epoch: 0, timestamp: nil)
        let o2 = try #require(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        #expect(o2["score"] is NSNull)
        #expect(o2["label"] == nil)
        // Scores are written as their shortest round-trip text, as `description` gives it.
        var rng = SplitMix64(seed: 3)
        for _ in 0..<10_000 {
            let v = Double(bitPattern: rng.next() & ~(0x7FF << 52) | (UInt64(1 + rng.next() % 0x7FE) << 52))
            w.prediction(partition: 0, offset: 0, key: "k", score: v, label: nil, modelVersion: 0, worker: "", epoch: 0, timestamp: nil)
            let text = String(decoding: w.bytes, as: UTF8.self)
            let expected = v == v.rounded() && abs(v) < 1e15 ? String(Int64(v)) : v.description
            #expect(text.contains("\"score\":\(expected),"), "\(v): \(text)")
        }
    }
}
