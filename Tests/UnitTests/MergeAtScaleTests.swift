import Testing
@testable import Coordinator
import Models
@testable import Wire

/// The merge paths added for many workers and big models (issue 28) against the plain one:
/// equal to the bit, not within a tolerance.
@Suite("Merge at scale")
struct MergeAtScaleTests {
    /// Deterministic deltas: dense ones, and sparse ones touching `touched` of the coordinates.
    static func deltas(width: Int, count: Int, sparseEvery: Int, seed: UInt64) -> [ParameterDelta] {
        var state = seed
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) * 1.37e-9
        }
        return (0..<count).map { k in
            if k % sparseEvery == 0 {
                let idx = stride(from: k % 7, to: width, by: 13).map { UInt32($0) }
                return ParameterDelta(worker: "w\(k)", baseVersion: 0, samples: 1 + k * 3, delta: idx.map { _ in next() },
                                      indices: idx, width: width)
            }
            return ParameterDelta(worker: "w\(k)", baseVersion: 0, samples: 1 + k * 3, delta: (0..<width).map { _ in next() })
        }
    }

    static func bits(_ v: [Double]) -> [UInt64] { v.map(\.bitPattern) }

    @Test("a merge sharded over coordinate ranges equals the single loop to the bit", arguments: [2, 3, 7, 64])
    func shardedEqualsSingle(shards: Int) {
        let width = 10_007
        let global = (0..<width).map { Double($0 % 31) * 0.001 - 0.0155 }
        let ds = Self.deltas(width: width, count: 9, sparseEvery: 3, seed: 7)
        for rule in MergeRule.allCases {
            let one = ModelAveraging.merge(global: global, deltas: ds, rule: rule, shards: 1)
            let many = ModelAveraging.merge(global: global, deltas: ds, rule: rule, shards: shards)
            #expect(Self.bits(many) == Self.bits(one))
            #expect(one != global)
        }
    }

    @Test("a sparse delta merges exactly as its dense form")
    func sparseEqualsDense() {
        let width = 4_096
        let global = (0..<width).map { Double($0) * 1e-4 }
        let sparse = Self.deltas(width: width, count: 4, sparseEvery: 1, seed: 11)
        let dense = sparse.map { d -> ParameterDelta in
            var v = [Double](repeating: 0, count: width)
            for (k, i) in d.indices!.enumerated() { v[Int(i)] = d.delta[k] }
            return ParameterDelta(worker: d.worker, baseVersion: 0, samples: d.samples, delta: v)
        }
        #expect(Self.bits(ModelAveraging.merge(global: global, deltas: sparse, shards: 3))
                == Self.bits(ModelAveraging.merge(global: global, deltas: dense)))
        #expect(ModelAveraging.norm(sparse[0].delta) == ModelAveraging.norm(dense[0].delta))
    }

    @Test("sparse deltas stay sparse off the wire, and the aggregator's version equals the dense path's")
    func aggregatorSparse() throws {
        let width = 1 << 16
        var vectors: [[Double]] = []
        for k in 0..<5 {
            var v = [Double](repeating: 0, count: width)
            for i in stride(from: k, to: width, by: 97) { v[i] = Double(i % 11 - 5) * 1e-3 * Double(k + 1) }
            vectors.append(v)
        }
        var viaWire = ModelAggregator(parameterCount: width, syncIntervalMs: 10, now: 0, shards: 2)
        var dense = ModelAggregator(parameterCount: width, syncIntervalMs: 10, now: 0)
        for (k, v) in vectors.enumerated() {
            let d = ModelDelta(workerId: "w\(k)", seq: 1, baseVersion: 0, samples: 10 + k, delta: v)
            guard case .modelDelta(let got) = try WireCodec.decode(WireCodec.encode(.modelDelta(d))[...]) else {
                Issue.record("not a delta")
                return
            }
            #expect(got.indices?.count == got.delta.count && got.delta.count < width / 50)
            #expect(got == d)  // the same change, sparse or dense
            #expect(got.dense == v)
            #expect(viaWire.receive(got).isEmpty && dense.receive(d).isEmpty)
        }
        _ = viaWire.tick(now: 10)
        _ = dense.tick(now: 10)
        #expect(Self.bits(viaWire.parameters) == Self.bits(dense.parameters))
        // A sparse delta is re-encoded as the same pairs.
        let s = ModelDelta(workerId: "w", seq: 2, baseVersion: 1, samples: 3, width: 8, indices: [1, 6], values: [0.5, -2])
        #expect(WireCodec.encode(.modelDelta(s))[2].count == 24)
        #expect(try WireCodec.decode(WireCodec.encode(.modelDelta(s))[...]) == .modelDelta(s))
    }

    @Test("a sparse delta with indices out of order, past the width or not matching its values is rejected")
    func malformedSparse() {
        var a = ModelAggregator(parameterCount: 8, syncIntervalMs: 10, now: 0)
        let bad = [
            ModelDelta(workerId: "a", seq: 1, baseVersion: 0, samples: 1, width: 8, indices: [3, 2], values: [1, 1]),
            ModelDelta(workerId: "b", seq: 1, baseVersion: 0, samples: 1, width: 8, indices: [8], values: [1]),
            ModelDelta(workerId: "c", seq: 1, baseVersion: 0, samples: 1, width: 8, indices: [1, 2], values: [1]),
            ModelDelta(workerId: "d", seq: 1, baseVersion: 0, samples: 1, width: 9, indices: [1], values: [1]),
        ]
        for d in bad { #expect(!a.receive(d).isEmpty) }
        #expect(a.rejected.count == 4)
        #expect(a.tick(now: 100).isEmpty)
        #expect(a.parameters == [Double](repeating: 0, count: 8))
    }

    @Test("a dense delta merged from its received bytes equals the decoded vector's merge, for every encoding",
          arguments: DeltaCompression.allCases)
    func packedEqualsDecoded(c: DeltaCompression) throws {
        let width = 3_001
        let global = (0..<width).map { Double($0 % 17) * 0.01 }
        var packed: [ParameterDelta] = [], plain: [ParameterDelta] = []
        for k in 0..<3 {
            let v = Self.deltas(width: width, count: 2, sparseEvery: 99, seed: UInt64(20 + k))[1].delta
            let (bytes, decoded) = c.encode(v)
            // Split into chunks as the wire splits payloads: at 808 bytes (a whole number of
            // float64 and float16 values), and at an odd size, which is joined.
            let size = k == 2 ? 777 : 808
            let chunks = stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min(bytes.count, $0 + size)]) }
            let p = try #require(PackedValues(chunks: chunks, chunkBytes: size, compression: c, count: width))
            #expect(p.decoded() == decoded)
            #expect(c.decode(bytes, count: width) == decoded)
            packed.append(ParameterDelta(worker: "w\(k)", baseVersion: 0, samples: 5 + k, delta: [], packed: p))
            plain.append(ParameterDelta(worker: "w\(k)", baseVersion: 0, samples: 5 + k, delta: decoded))
            #expect(ModelAveraging.norm(of: packed[k]) == ModelAveraging.norm(decoded))
            #expect(try ModelAveraging.validatedNorm(packed[k], width: width) == ModelAveraging.norm(decoded))
        }
        for shards in [1, 3] {
            #expect(Self.bits(ModelAveraging.merge(global: global, deltas: packed, shards: shards))
                    == Self.bits(ModelAveraging.merge(global: global, deltas: plain)))
        }
        // The robust step clips a packed delta as it clips the vector.
        let (kept, _) = ModelAveraging.robust(packed + [ParameterDelta(worker: "big", baseVersion: 0, samples: 5, delta: plain[0].delta.map { $0 * 100 })],
                                              history: ([], []), policy: RobustPolicy())
        let (keptPlain, _) = ModelAveraging.robust(plain + [ParameterDelta(worker: "big", baseVersion: 0, samples: 5, delta: plain[0].delta.map { $0 * 100 })],
                                                   history: ([], []), policy: RobustPolicy())
        #expect(Self.bits(ModelAveraging.merge(global: global, deltas: kept)) == Self.bits(ModelAveraging.merge(global: global, deltas: keptPlain)))
        // Bytes that do not hold the values are refused.
        #expect(PackedValues(chunks: [[1, 2, 3]], chunkBytes: 3, compression: c, count: 1) == nil)
    }
}
