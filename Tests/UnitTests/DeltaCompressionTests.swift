import Testing
@testable import Coordinator
import Models
@testable import Wire
@testable import Worker

/// Compressed deltas (issue 28): the error each encoding allows, and error feedback keeping
/// what rounding left out for the next delta, so the global model never drifts from the
/// workers' progress by more than one round's rounding.
@Suite("Delta compression")
struct DeltaCompressionTests {
    static func values(_ n: Int, seed: UInt64) -> [Double] {
        var s = seed
        return (0..<n).map { i in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(s >> 11) / Double(1 << 53) - 0.5
            return i % 5 == 0 ? 0 : u * (i % 3 == 0 ? 1e-4 : 1e-1)  // zeros and two magnitudes
        }
    }

    @Test("each encoding decodes to what it promised, within its error bound", arguments: DeltaCompression.allCases)
    func bounds(c: DeltaCompression) throws {
        let v = Self.values(1_000, seed: 3)
        let (bytes, decoded) = c.encode(v)
        #expect(bytes.count == c.byteCount(v.count))
        #expect(try #require(c.decode(bytes, count: v.count)) == decoded)
        #expect(c.decode(bytes.dropLast().map { $0 }, count: v.count) == nil)
        for start in stride(from: 0, to: v.count, by: DeltaCompression.block) {
            let block = start..<min(v.count, start + DeltaCompression.block)
            let largest = block.map { abs(v[$0]) }.max()!
            for i in block {
                let err = abs(decoded[i] - v[i])
                switch c {
                case .none: #expect(err == 0)
                case .float16: #expect(err <= abs(v[i]) * 0x1p-11 + 0x1p-25, "\(v[i]) -> \(decoded[i])")
                case .int8: #expect(err <= largest / 127 * 0.5 * (1 + 1e-6), "\(v[i]) -> \(decoded[i])")
                }
                if v[i] == 0 { #expect(decoded[i] == 0) }  // untouched stays exactly untouched
            }
        }
    }

    @Test("a non-finite value survives compression as non-finite, and the coordinator refuses the delta")
    func nonFinite() throws {
        for c in [DeltaCompression.float16, .int8] {
            var v = Self.values(300, seed: 5)
            v[7] = .nan
            var d = ModelDelta(workerId: "w", seq: 1, baseVersion: 0, samples: 3, delta: c.encode(v).decoded)
            (d.compressed, d.compression) = (c.encode(v).bytes, c)
            guard case .modelDelta(let got) = try WireCodec.decode(WireCodec.encode(.modelDelta(d))[...]) else {
                Issue.record("not a delta")
                return
            }
            var a = ModelAggregator(parameterCount: 300, syncIntervalMs: 1, now: 0)
            #expect(!a.receive(got).isEmpty && a.rejected["w"] == 1)
        }
    }

    @Test("a compressed delta travels as its bytes and decodes to the values merged", arguments: [DeltaCompression.float16, .int8])
    func wire(c: DeltaCompression) throws {
        var session = WorkerSession(now: 0)
        session.resetSync(version: 0, base: [Double](repeating: 0, count: 1_003))
        session.learnt(10)
        let weights = Self.values(1_000, seed: 9)
        let made = session.makeDelta(parameters: weights, scalerMoments: [4, 2, 8], worker: "w", now: 0, compression: c)
        let d = try #require(made)
        #expect(d.compression == c && d.scaler == [4, 2, 8] && d.width == 1_000)
        let frames = WireCodec.encode(.modelDelta(d))
        #expect(frames.dropFirst(2).reduce(0) { $0 + $1.count } == c.byteCount(1_000))
        guard case .modelDelta(let got) = try WireCodec.decode(frames[...]) else {
            Issue.record("not a delta")
            return
        }
        #expect(got.dense == d.delta && got.scaler == d.scaler && got.samples == 10)
        // Fault injection poisons what travels: the values go as float64, not the honest bytes.
        var poisoned = d
        _ = DeltaFault.nan.poison(&poisoned)
        #expect(poisoned.compressed == nil && poisoned.compression == nil)
        guard case .modelDelta(let bad) = try WireCodec.decode(WireCodec.encode(.modelDelta(poisoned))[...]) else { return }
        #expect(bad.dense[0].isNaN)
        // A torn payload is a typed error.
        var torn = frames
        torn[2] = Array(torn[2].dropLast())
        #expect(throws: WireError.self) { try WireCodec.decode(torn[...]) }
    }

    @Test("error feedback: over 200 rounds the global model stays within one round's rounding of the worker's progress",
          arguments: [DeltaCompression.float16, .int8])
    func errorFeedback(c: DeltaCompression) throws {
        let n = 512
        var session = WorkerSession(now: 0)
        session.resetSync(version: 0, base: [Double](repeating: 0, count: n))
        var agg = ModelAggregator(parameterCount: n, syncIntervalMs: 1, now: 0)
        var local = [Double](repeating: 0, count: n)
        var learnt = [Double](repeating: 0, count: n)  // everything the worker learnt, summed exactly
        var worst = 0.0
        for round in 1...200 {
            let step = Self.values(n, seed: UInt64(round)).map { $0 * 0.37 }
            for i in 0..<n { local[i] += step[i]; learnt[i] += step[i] }
            session.learnt(5)
            let made = session.makeDelta(parameters: local, scalerMoments: [], worker: "w", now: Int64(round), compression: c)
            let d = try #require(made)
            #expect(d.compression == c)
            #expect(agg.receive(d).isEmpty)
            guard case .publish(let u)? = agg.tick(now: Int64(round)).last else {
                Issue.record("no version")
                return
            }
            local = session.rebase(parameters: local, scalerMoments: [], onto: u, worker: "w").parameters
            // The worker's own model is its whole progress (nothing lost to rounding)...
            for i in 0..<n { #expect(abs(local[i] - learnt[i]) <= 1e-12) }
            // ...and the global one lags it by what this round's rounding held back, no more.
            worst = max(worst, (0..<n).map { abs(u.parameters[$0] - learnt[$0]) }.max()!)
        }
        let bound = c == .int8 ? 0.05 * 0.37 / 127 : 0.05 * 0.37 * 0x1p-10
        #expect(worst <= bound * 2, "global drifted \(worst) from the progress (bound \(bound))")
    }
}
