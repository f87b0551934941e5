import Testing
@testable import Coordinator
import Models
@testable import Wire

/// Per-host relays (issue 28, tree aggregation): a host's deltas combined into one merge to
/// what the coordinator would have made of them one by one, and the version names every
/// worker's delta so each worker's rebase knows it was merged.
@Suite("Tree aggregation")
struct TreeAggregationTests {
    static func delta(_ worker: String, seq: Int, samples: Int, width: Int, seed: Int, sparse: Bool = false) -> ModelDelta {
        let values = (0..<width).map { i in Double((i * 31 + seed * 17) % 23 - 11) * 1e-3 * Double(seed) }
        if sparse {
            let idx: [UInt32] = stride(from: seed % 5, to: width, by: 7).map(UInt32.init)
            return ModelDelta(workerId: worker, seq: seq, baseVersion: 0, samples: samples, width: width, indices: idx,
                              values: idx.map { values[Int($0)] })
        }
        var d = ModelDelta(workerId: worker, seq: seq, baseVersion: 0, samples: samples, delta: values)
        d.scaler = [Double(samples), Double(seed), 1]
        return d
    }

    /// Through the codec, as it crosses a socket.
    static func wire(_ d: ModelDelta) throws -> ModelDelta {
        guard case .modelDelta(let back) = try WireCodec.decode(WireCodec.encode(.modelDelta(d))[...]) else {
            throw WireError.malformed("not a delta")
        }
        return back
    }

    @Test("two hosts' combined deltas merge to the flat merge of the six, and the version names all six", arguments: MergeRule.allCases)
    func equalsFlat(rule: MergeRule) throws {
        let width = 1_000
        let hosts: [[ModelDelta]] = [
            [Self.delta("a1", seq: 3, samples: 40, width: width, seed: 1), Self.delta("a2", seq: 1, samples: 7, width: width, seed: 2),
             Self.delta("a3", seq: 9, samples: 120, width: width, seed: 3, sparse: true)],
            [Self.delta("b1", seq: 2, samples: 1, width: width, seed: 4), Self.delta("b2", seq: 5, samples: 64, width: width, seed: 5, sparse: true),
             Self.delta("b3", seq: 4, samples: 30, width: width, seed: 6)],
        ]
        let start = (0..<width).map { Double($0 % 13) * 0.01 }
        func aggregator() -> ModelAggregator {
            ModelAggregator(parameterCount: width, syncIntervalMs: 1, now: 0, parameters: start, robust: RobustPolicy(mode: .off), rule: rule)
        }
        var flat = aggregator()
        for d in hosts.joined() { #expect(flat.receive(try Self.wire(d)).isEmpty) }
        var tree = aggregator()
        for (h, deltas) in hosts.enumerated() {
            var c = DeltaCombiner(id: "relay-\(h)", settings: .init(rule: rule, robust: RobustPolicy(mode: .off)))
            for d in deltas { #expect(c.add(try Self.wire(d), now: 0) == nil) }
            let flushed = c.flush(now: 0)
            let combined = try #require(flushed)
            #expect(combined.members == Dictionary(uniqueKeysWithValues: deltas.map { ($0.workerId, $0.seq) }))
            #expect(combined.samples == deltas.reduce(0) { $0 + $1.samples })
            #expect(tree.receive(try Self.wire(combined)).isEmpty)
        }
        func published(_ a: inout ModelAggregator) throws -> ModelUpdate {
            for d in a.tick(now: 10) { if case .publish(let u) = d { return u } }
            throw WireError.malformed("nothing published")
        }
        let f = try published(&flat), t = try published(&tree)
        #expect(t.contributions == f.contributions && t.contributions.count == 6)
        for i in 0..<width {
            #expect(abs(t.parameters[i] - f.parameters[i]) <= 1e-12 * max(1, abs(f.parameters[i])), "weight \(i): \(t.parameters[i]) vs \(f.parameters[i])")
        }
        // Scaler moments add up either way.
        #expect(t.scaler.count == 3 && zip(t.scaler, f.scaler).allSatisfy { abs($0 - $1) < 1e-9 })
    }

    @Test("a relay's int8 combined delta: what rounding left out goes with the next one, so two rounds sum to the exact two")
    func compressedRelay() throws {
        var exact = DeltaCombiner(id: "r")
        var int8 = DeltaCombiner(id: "r", settings: .init(compression: .int8))
        var sumExact = [Double](repeating: 0, count: 600), sumInt8 = sumExact
        var lastRounding = 0.0
        for round in 1...2 {
            for c in [0, 1] {
                let d = Self.delta("w\(c)", seq: round, samples: 10, width: 600, seed: round * 2 + c)
                _ = exact.add(d, now: 0)
                _ = int8.add(d, now: 0)
            }
            let fe = exact.flush(now: 0, force: true), fq = int8.flush(now: 0, force: true)
            let e = try #require(fe)
            let q = try #require(fq)
            #expect(q.compression == .int8 && q.compressed?.count == DeltaCompression.int8.byteCount(600))
            let back = try Self.wire(q)
            #expect(back.dense == q.delta)
            for i in 0..<600 { sumExact[i] += e.delta[i]; sumInt8[i] += q.delta[i] }
            lastRounding = e.delta.map(abs).max()! / 127
        }
        // Two rounds through int8 trail the exact two by at most the last round's rounding.
        for i in 0..<600 { #expect(abs(sumInt8[i] - sumExact[i]) <= lastRounding, "weight \(i)") }
    }

    @Test("the relay's robust step: a huge delta among the host's is clipped to factor x the median norm before combining, and said")
    func robustAtRelay() throws {
        var c = DeltaCombiner(id: "r")
        var deltas = (0..<4).map { Self.delta("w\($0)", seq: 1, samples: 10, width: 50, seed: 2) }
        for i in deltas[3].delta.indices { deltas[3].delta[i] *= 1_000 }
        for d in deltas { #expect(c.add(d, now: 0) == nil) }
        let f = c.flush(now: 0, force: true)
        let combined = try #require(f)
        #expect(combined.members?.count == 4 && c.outliers == 1)
        #expect(c.notes.count == 1 && c.notes[0].contains("clipped the model delta of w3"), "\(c.notes)")
        // Three equal deltas and one clipped to 3x their norm: the average moves by (3 + 3) / 4
        // of one honest delta along its direction.
        let honest = deltas[0].delta
        let clipped = deltas[3].delta.map { $0 / 1_000 * 3 }
        for i in 0..<50 { #expect(abs(combined.delta[i] - (3 * honest[i] + clipped[i]) / 4) < 1e-12, "weight \(i)") }
    }

    @Test("a relay sends once every worker of the host has sent, or max_wait after the first; at shutdown whatever is pending")
    func flushPolicy() throws {
        var c = DeltaCombiner(id: "r", settings: .init(maxWaitMs: 500))
        #expect(c.add(Self.delta("a", seq: 1, samples: 5, width: 10, seed: 1), now: 0) == nil)
        #expect(c.add(Self.delta("b", seq: 1, samples: 5, width: 10, seed: 2), now: 10) == nil)
        #expect(c.flush(now: 10)?.members == ["a": 1, "b": 1])  // both known workers sent
        // Next round: only a so far, b is known: wait until 500 ms after a's.
        #expect(c.add(Self.delta("a", seq: 2, samples: 5, width: 10, seed: 1), now: 1_000) == nil)
        #expect(c.flush(now: 1_200) == nil)
        #expect(c.flush(now: 1_500)?.members == ["a": 2])
        #expect(c.add(Self.delta("b", seq: 2, samples: 5, width: 10, seed: 2), now: 1_600) == nil)
        #expect(c.flush(now: 1_700) == nil)
        #expect(c.flush(now: 1_700, force: true)?.members == ["b": 2])
        #expect(c.flush(now: 1_700, force: true) == nil)
    }

    @Test("a relay refuses bad deltas with the reason and never forwards them")
    func refusals() throws {
        var c = DeltaCombiner(id: "r")
        var nan = Self.delta("a", seq: 1, samples: 5, width: 10, seed: 1)
        nan.delta[3] = .nan
        #expect(c.add(nan, now: 0) != nil)
        var chained = Self.delta("x", seq: 1, samples: 5, width: 10, seed: 1)
        chained.members = ["y": 1]
        #expect(c.add(chained, now: 0)?.contains("relays do not chain") == true)
        #expect(c.add(Self.delta("b", seq: 1, samples: 5, width: 10, seed: 2), now: 0) == nil)
        #expect(c.add(Self.delta("c", seq: 1, samples: 5, width: 12, seed: 2), now: 0)?.contains("width 12") == true)
        #expect(c.rejected == 3)
        #expect(c.flush(now: 0, force: true)?.members == ["b": 1])
    }

    @Test("two combined deltas of one relay before a merge both count; a rejected one is counted against the relay")
    func relayBookkeeping() throws {
        var a = ModelAggregator(parameterCount: 10, syncIntervalMs: 1, now: 0, robust: RobustPolicy(mode: .off))
        var c = DeltaCombiner(id: "r")
        _ = c.add(Self.delta("a", seq: 1, samples: 5, width: 10, seed: 1), now: 0)
        let f1 = c.flush(now: 0, force: true)
        let first = try #require(f1)
        _ = c.add(Self.delta("b", seq: 1, samples: 5, width: 10, seed: 2), now: 0)
        let f2 = c.flush(now: 0, force: true)
        let second = try #require(f2)
        #expect(a.receive(first).isEmpty && a.receive(second).isEmpty)
        var bad = second
        bad.delta[0] = .infinity
        #expect(!a.receive(bad).isEmpty && a.rejected["r"] == 1)
        let u = a.tick(now: 5).compactMap { if case .publish(let u) = $0 { u } else { nil } }.first
        #expect(u?.contributions == ["a": 1, "b": 1])
    }
}
