import Testing
import Config
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
            .welcome(Welcome(workerId: "w1", bootstrap: "b:1", config: ClusterConfig(), heartbeatMs: 500, leaseMs: 2000)),
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
}
