import Testing
import Config
import Models
import Foundation
@testable import Wire

@Suite("Wire protocol")
struct WireTests {
    @Test("every message kind round-trips")
    func roundTrip() throws {
        var report = WorkerReport(workerId: "w1")
        report.deadLettersByReason = ["not_json": 3]
        report.partitions = [PartitionReport(partition: 1, epoch: 2, position: 10, committed: 9, lag: 0, processed: 10, keys: 4)]
        let messages: [WireMessage] = [
            .hello(Hello(workerId: "w1", host: "h", pid: 9, held: [PartitionLease(partition: 1, epoch: 2)])),
            .heartbeat(report),
            .revoked(Revoked(workerId: "w1", partitions: [PartitionLease(partition: 1, epoch: 2)], committed: [10])),
            .leaving(Leaving(workerId: "w1")),
            .left(Leaving(workerId: "w1")),
            .welcome(Welcome(workerId: "w1", bootstrap: "b:1", settings: WorkerSettings(ClusterConfig()), heartbeatMs: 500, leaseMs: 2000)),
            .assign(Assignment(partitions: [PartitionLease(partition: 0, epoch: 1)])),
            .revoke(Assignment(partitions: [])),
            .ping(Ping(nowMs: 5)),
            .reregister(Reregister(reason: "x")),
            .statusRequest(StatusRequest()),
            .error(WireFailure(message: "m")),
        ]
        for m in messages {
            #expect(try WireCodec.decode(WireCodec.encode(m)[...]) == m)
        }
    }

    @Test("a sparse delta travels as its touched coordinates only and round-trips exactly")
    func sparseDelta() throws {
        var delta = [Double](repeating: 0, count: 1 << 16)
        delta[3] = 0.25
        delta[40_000] = -1e-9
        delta[65_535] = 7
        let m = WireMessage.modelDelta(ModelDelta(workerId: "w", seq: 2, baseVersion: 5, samples: 9, delta: delta))
        let frames = WireCodec.encode(m)
        #expect(frames[2].count == 3 * 12, "3 (index, value) pairs, not \(delta.count * 8) bytes")
        #expect(try WireCodec.decode(frames[...]) == m)
        // A dense delta stays dense.
        let dense = WireMessage.modelDelta(ModelDelta(workerId: "w", seq: 3, baseVersion: 5, samples: 9, delta: [1, 2, 0, 4]))
        #expect(WireCodec.encode(dense)[2].count == 32)
        #expect(try WireCodec.decode(WireCodec.encode(dense)[...]) == dense)
        // Hostile sparse frames: an index past the width, indices out of order, a torn pair.
        let head = Array(#"{"type":"model_delta","body":{"workerId":"w","seq":1,"baseVersion":0,"samples":1,"width":4,"sparse":true}}"#.utf8)
        func pair(_ i: UInt32) -> [UInt8] { withUnsafeBytes(of: i.littleEndian, Array.init) + withUnsafeBytes(of: 1.0.bitPattern.littleEndian, Array.init) }
        for bad in [pair(4), pair(2) + pair(1), Array(pair(1).prefix(11))] {
            #expect(throws: WireError.self) { try WireCodec.decode([WireCodec.tag, head, bad][...]) }
        }
        #expect(try WireCodec.decode([WireCodec.tag, head, pair(1) + pair(3)][...])
                == .modelDelta(ModelDelta(workerId: "w", seq: 1, baseVersion: 0, samples: 1, delta: [0, 1, 0, 1])))
    }

    @Test("garbage is a typed error, never a crash", arguments: [
        [[UInt8]](),
        [Array("TRB2".utf8), Array("{}".utf8)],
        [WireCodec.tag, Array("not json".utf8)],
        [WireCodec.tag, Array(#"{"type":"launch_missiles","body":{}}"#.utf8)],
        [WireCodec.tag, Array(#"{"type":"hello","body":{"workerId":5}}"#.utf8)],
        [WireCodec.tag, Array(#"{"type":"hello"}"#.utf8)],
        [WireCodec.tag, [0xFF, 0xFE, 0x00]],
        [WireCodec.tag, Array("{}".utf8), Array("extra".utf8)],
    ])
    func garbage(frames: [[UInt8]]) {
        #expect(throws: WireError.self) { try WireCodec.decode(frames[...]) }
    }

    @Test("a heartbeat's metric counts travel packed and round-trip exactly; plain arrays from older workers still read")
    func packedCounts() throws {
        var e = ClusterConfig().model.makeEvaluation().report
        e.whole.positives[3] = 1_234_567_890_123
        e.whole.negatives[255] = 7
        e.window.positives[0] = -2  // a window's removals never go below 0; the codec does not care
        var r = WorkerReport(workerId: "w")
        r.evaluation = e
        let frames = WireCodec.encode(.heartbeat(r))
        // Packed, with every other report field at its default: ~2.5 KB (a bound on regressions).
        #expect(frames[1].count < 2_600, "\(frames[1].count) bytes")
        guard case .heartbeat(let got) = try WireCodec.decode(frames[...]) else {
            Issue.record("not a heartbeat")
            return
        }
        #expect(got == r)
        for v: [Int64] in [[], [0], [Int64.max, Int64.min, -1, 1, 300]] { #expect(PackedCounts.decode(PackedCounts.encode(v)) == v) }
        #expect(PackedCounts.decode("gA==") == nil)  // a torn varint
        let plain = #"{"task":"binary","count":2,"correct":1,"lossSum":0.5,"positives":[1,0],"negatives":[0,1],"confusion":[],"classes":0}"#
        let m = try JSONDecoder().decode(MetricState.self, from: Data(plain.utf8))
        #expect(m.positives == [1, 0] && m.negatives == [0, 1] && m.count == 2)
    }
}
