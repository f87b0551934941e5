import Testing
@testable import Coordinator
import Models
@testable import Wire
@testable import Worker

/// Versions sent as differences (issue 28): a worker holding the previous version rebuilds the
/// new one from a few bytes, bit for bit what the coordinator's view says; compressed
/// differences keep the workers within one round's rounding of the merged model; a worker
/// without the previous version gets the version whole.
@Suite("Version diffs")
struct VersionDiffTests {
    static func weights(_ n: Int, seed: UInt64, scale: Double = 1) -> [Double] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return (Double(s >> 11) / Double(1 << 53) - 0.5) * scale
        }
    }

    /// Through the codec, as a worker receives it.
    static func wire(_ u: ModelUpdate) throws -> ModelUpdate {
        guard case .modelUpdate(let back) = try WireCodec.decode(WireCodec.encode(.modelUpdate(u), epoch: 3)[...]) else {
            throw WireError.malformed("not a model update")
        }
        return back
    }

    @Test("few changed coordinates travel as exact (index, value) pairs and rebuild the version bit for bit")
    func changedPairs() throws {
        let before = Self.weights(10_000, seed: 1)
        var after = before
        for i in stride(from: 3, to: after.count, by: 97) { after[i] += 1e-3 }
        after[0] = -0.0
        for c in DeltaCompression.allCases {
            let (diff, view) = try #require(VersionDiff.make(from: before, to: after, compression: c))
            guard case .changed(let indices, _) = diff else { Issue.record("\(c): \(diff.kind), not pairs"); continue }
            #expect(indices.count == 105 && diff.byteCount == 12 * 105)  // every 97th from 3, and 0
            #expect(view.map(\.bitPattern) == after.map(\.bitPattern))
            let got = try #require(diff.apply(to: before[...]))
            #expect(got.map(\.bitPattern) == after.map(\.bitPattern))
        }
        // Nothing changed (a promotion's version): no pairs at all.
        let (same, _) = try #require(VersionDiff.make(from: before, to: before, compression: .none))
        #expect(same == .changed(indices: [], values: []))
    }

    @Test("every coordinate changed and no compression: the version goes whole")
    func denseWhole() {
        let before = Self.weights(1_000, seed: 2)
        let after = before.map { $0 + 1e-4 }
        #expect(VersionDiff.make(from: before, to: after, compression: .none) == nil)
        #expect(VersionDiff.make(from: before, to: Array(after.dropLast()), compression: .int8) == nil)
    }

    @Test("compressed differences: workers rebuild the coordinator's view exactly, and it tracks the merged model within one rounding",
          arguments: [DeltaCompression.float16, .int8])
    func compressed(c: DeltaCompression) throws {
        var merged = Self.weights(5_000, seed: 3)
        var b = VersionBroadcast(compression: c)
        var held = b.next(ModelUpdate(version: 1, contributions: [:], parameters: merged)).whole.parameters
        #expect(held == merged)  // the first version goes whole, exact
        for v in 2...40 {
            let step = Self.weights(merged.count, seed: UInt64(v), scale: 1e-2)
            for i in merged.indices { merged[i] += step[i] }
            let (whole, diff) = b.next(ModelUpdate(version: v, contributions: [:], parameters: merged))
            let d = try #require(diff)
            #expect(d.diffFrom == v - 1 && d.width == merged.count && d.parameters.isEmpty)
            #expect(d.diff?.byteCount == c.byteCount(merged.count))
            let got = try Self.wire(d)
            #expect(got.diff == d.diff)
            held = try #require(got.diff?.apply(to: held[...]))
            #expect(held == b.view && whole.parameters == b.view)
            // The view trails the merged model by the last difference's rounding only (error
            // feedback: what a version's rounding held back goes out with the next one).
            let blocks = stride(from: 0, to: merged.count, by: DeltaCompression.block)
            for start in blocks {
                let r = start..<min(merged.count, start + DeltaCompression.block)
                let largest = r.map { abs(step[$0]) + 0.01 }.max()!
                for i in r {
                    let err = abs(held[i] - merged[i])
                    switch c {
                    case .float16: #expect(err <= largest * 0x1p-10, "coordinate \(i) at version \(v): \(err)")
                    default: #expect(err <= largest / 127, "coordinate \(i) at version \(v): \(err)")
                    }
                }
            }
        }
    }

    @Test("who gets what: holders of the previous version the difference, others (new, welcomed, unreachable) the whole view; a reset goes whole")
    func routing() throws {
        var b = VersionBroadcast(compression: .int8)
        let p1 = Self.weights(2_000, seed: 4)
        let first = b.next(ModelUpdate(version: 1, contributions: [:], parameters: p1))
        #expect(first.diff == nil && !b.takesDiff("a", first.diff))
        b.sent(1, to: "a")
        b.sent(1, to: "b")
        let p2 = p1.map { $0 + 1e-3 }
        let second = b.next(ModelUpdate(version: 2, contributions: ["a": 1], parameters: p2))
        #expect(b.takesDiff("a", second.diff) && b.takesDiff("b", second.diff) && !b.takesDiff("c", second.diff))
        b.forget("b")
        #expect(!b.takesDiff("b", second.diff))
        b.sent(2, to: "a")
        // Welcomed at version 2 before version 2 was sent (its checkpoint was pending): the
        // send of 2 is ignored by that worker, so version 3 must reach it whole too.
        b.welcomed("d", at: 2)
        b.sent(2, to: "d")
        #expect(!b.takesDiff("d", b.next(ModelUpdate(version: 3, contributions: [:], parameters: p2.map { $0 + 1e-3 })).diff))
        b.sent(3, to: "d")
        b.sent(3, to: "a")
        var reset = ModelUpdate(version: 4, contributions: [:], parameters: p1)
        reset.reset = true
        let third = b.next(reset)
        #expect(third.diff == nil && third.whole.parameters == p1 && b.view == p1)
    }

    @Test("a worker without the version a difference was taken from reports the miss and is sent the version whole once")
    func missed() throws {
        var b = VersionBroadcast(compression: .int8)
        let p1 = Self.weights(600, seed: 5)
        let w1 = b.next(ModelUpdate(version: 1, contributions: [:], parameters: p1)).whole
        var s = WorkerSession(now: 0)
        s.resetSync(version: 1, base: w1.parameters)
        b.sent(1, to: "w")
        // Version 2 is lost on the way; version 3 comes as a difference from 2.
        _ = b.next(ModelUpdate(version: 2, contributions: [:], parameters: p1.map { $0 + 1e-3 }))
        b.sent(2, to: "w")
        let (_, d3) = b.next(ModelUpdate(version: 3, contributions: [:], parameters: p1.map { $0 + 2e-3 }))
        let got = try Self.wire(try #require(d3))
        #expect(s.expand(got) == nil)
        let resend = b.missed(3, by: "w")
        let whole = try #require(resend)
        #expect(whole.version == 3 && whole.diff == nil && whole.parameters == b.view)
        let again = b.missed(3, by: "w")
        #expect(again == nil)  // heartbeats sent before it arrived repeat the report
        #expect(s.expand(whole) == whole)
        // The worker's own base expands: a version older than its own is left to the rebase.
        s.resetSync(version: 3, base: b.view)
        #expect(try #require(s.expand(try Self.wire(got))).version == 3)
        // From the next version on, differences fit again.
        b.sent(3, to: "w")
        let (_, d4) = b.next(ModelUpdate(version: 4, contributions: [:], parameters: p1.map { $0 + 3e-3 }))
        let d4w = try Self.wire(try #require(d4))
        let e4 = try #require(s.expand(d4w))
        #expect(e4.parameters == b.view && e4.diff == nil && e4.diffFrom == nil)
    }

    @Test("malformed differences are typed errors naming what is wrong")
    func malformed() throws {
        var b = VersionBroadcast(compression: .int8)
        _ = b.next(ModelUpdate(version: 1, contributions: [:], parameters: Self.weights(300, seed: 6)))
        let d = try #require(b.next(ModelUpdate(version: 2, contributions: [:], parameters: Self.weights(300, seed: 7))).diff)
        var frames = WireCodec.encode(.modelUpdate(d))
        frames[2].removeLast()
        #expect(throws: WireError.self) { try WireCodec.decode(frames[...]) }
        var body = String(decoding: WireCodec.encode(.modelUpdate(d))[1], as: UTF8.self)
        body = body.replacingOccurrences(of: "\"diffKind\":\"int8\"", with: "\"diffKind\":\"zip\"")
        frames = WireCodec.encode(.modelUpdate(d))
        frames[1] = Array(body.utf8)
        do {
            _ = try WireCodec.decode(frames[...])
            Issue.record("an unknown diff kind decoded")
        } catch {
            #expect("\(error)".contains("zip"))
        }
        // Pairs out of the width are refused.
        var pairs = ModelUpdate(version: 2, contributions: [:], parameters: [])
        (pairs.diff, pairs.diffFrom, pairs.width) = (.changed(indices: [5, 400], values: [1, 2]), 1, 300)
        #expect(throws: WireError.self) { try WireCodec.decode(WireCodec.encode(.modelUpdate(pairs))[...]) }
    }
}
