import Foundation
import Kafka
import Testing
import Wire
import ZeroMQ

/// Issue 10's hostile-input check: random and mutated wire messages against a live
/// coordinator while real workers process a stream. It keeps serving them, and every message
/// is accounted for (handled + dropped = sent).
@Suite("Hostile input", .serialized)
struct HostileInputTests {
    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// One hostile message: random bytes, a valid message with bytes flipped or cut, a wrong
    /// tag, or garbage frames. Never a valid `hello` (a fuzzer that registered would be a
    /// real member and move partitions; that is membership, tested elsewhere).
    static func hostile(_ r: inout Rng) -> [[UInt8]] {
        var report = WorkerReport(workerId: "fuzz")
        report.processed = 5
        let seeds: [WireMessage] = [
            .heartbeat(report),
            .revoked(Revoked(workerId: "fuzz", partitions: [PartitionLease(partition: 1, epoch: 3)], committed: [7])),
            .modelDelta(ModelDelta(workerId: "fuzz", seq: 1, baseVersion: 0, samples: 3, delta: [1, 2, 3])),
            .leaving(Leaving(workerId: "fuzz")),
            .assign(Assignment(partitions: [PartitionLease(partition: 0, epoch: 1)])),
        ]
        var frames = WireCodec.encode(seeds[r.below(seeds.count)])
        switch r.below(6) {
        case 0:  // random frames
            frames = (0..<(1 + r.below(3))).map { _ in (0..<r.below(300)).map { _ in UInt8(truncatingIfNeeded: r.next()) } }
        case 1:  // flip bytes in the JSON
            for _ in 0..<(1 + r.below(4)) where !frames[1].isEmpty {
                frames[1][r.below(frames[1].count)] = UInt8(truncatingIfNeeded: r.next())
            }
        case 2:  // truncate
            frames[1] = Array(frames[1].prefix(r.below(frames[1].count + 1)))
        case 3:  // wrong protocol version
            frames[0] = Array("TRB\(r.below(10))".utf8)
        case 4:  // extra or missing frames
            if r.below(2) == 0 { frames.append(Array("extra".utf8)) } else { frames = Array(frames.prefix(1)) }
        default: // a valid message from a stranger (answered, never trusted)
            break
        }
        return frames.map { $0.isEmpty ? [0] : $0 }
    }

    /// Sends `n` hostile messages; returns the sockets, which the caller keeps open until the
    /// coordinator has counted everything (closing a socket with messages still in flight is
    /// a different test: ZeroMQ may drop what a closed peer had queued).
    func flood(_ endpoint: String, _ n: Int, seed: UInt64, _ ctx: ZmqContext) throws -> [ZmqSocket] {
        var r = Rng(s: seed)
        var sockets: [ZmqSocket] = []
        for i in 0..<n {
            // A few identities, reconnecting now and then, like a hostile host would.
            if i % 2500 == 0 {
                let s = try ZmqSocket(ctx, .dealer, lingerMs: 5000)
                try s.setIdentity(Array("fuzz-\(seed)-\(i / 2500)".utf8))
                try s.connect(endpoint)
                sockets.append(s)
            }
            try sockets.last!.send(Self.hostile(&r))
            while (try? sockets.last!.receive(dontWait: true)) != nil {}
        }
        return sockets
    }

    @Test("10,000 random and mutated messages: every one accounted for; the coordinator keeps serving its workers")
    func hostileMessages() throws {
        let cluster = try Cluster.start(config: "[coordinator]\nheartbeat_ms = 250\nfailure_timeout_ms = 2000")
        // Exact accounting while nobody else talks: handled + dropped == sent.
        let n = 10_000
        let ctx = ZmqContext()
        let open1 = try flood(cluster.endpoint, n, seed: 1, ctx)
        let counted = try cluster.waitFor(seconds: 30, "all \(n) messages accounted for") { s in
            s.messagesHandled + s.messagesDropped >= n
        }
        usleep(500_000)
        let settled = try cluster.status()
        #expect(settled.messagesHandled + settled.messagesDropped == n, "handled \(settled.messagesHandled) + dropped \(settled.messagesDropped) != \(n)")
        #expect(counted.messagesDropped > n / 3, "most hostile messages are malformed and must be dropped")
        #expect(settled.workers.isEmpty, "no hostile message made anyone a member")
        _ = open1

        // Serving under fire: two real workers process a stream while another flood arrives.
        let ws = try ["h1", "h2"].map { try cluster.worker($0) }
        let balanced = try cluster.waitFor(seconds: 20, "2 workers with 2 partitions each") { s in
            s.workers.filter { $0.state == .up }.count == 2 && s.workers.filter { $0.state == .up }.allSatisfy { $0.partitions.count == 2 }
        }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "8000", "--rate", "4000"])
        let open2 = try flood(cluster.endpoint, 5_000, seed: 2, ctx)
        #expect(gen.wait(seconds: 60) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let done = try cluster.waitCommitted(highs, seconds: 60)
        #expect(done.totalProcessed == 8000)
        #expect(done.workers.filter { $0.state == .up }.map(\.workerId).sorted() == ["h1", "h2"])
        #expect(done.ownerByPartition == balanced.ownerByPartition, "no partition moved under the flood")
        #expect(!cluster.coordinator.log.contains("declared dead"))
        _ = open2
        for w in ws { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
    }

    @Test("an input too large to dead-letter whole: its first 64 KiB go to the dead letters, marked with its size; nothing stalls, every offset accounted for")
    func oversizedInput() throws {
        let cluster = try Cluster.start()
        let w = try cluster.worker("big")
        try cluster.waitFor(seconds: 20, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        // 1.5 MB that is not JSON: a dead letter, but over the worker producer's
        // message.max.bytes (librdkafka's default, 1,000,000), so it can never be queued whole.
        let p = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": cluster.bootstrap, "message.max.bytes": "4000000"]))
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 1_500_000)
        try p.produce(topic: "events", partition: 0, key: Array("huge".utf8), value: big, tag: 0)
        var failed: KafkaError?
        let left = p.drain(timeoutMs: 10_000) { if let e = $0.error { failed = e } }
        #expect(left == 0 && failed == nil, "\(String(describing: failed))")
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "2000"])
        #expect(gen.wait(seconds: 60) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let done = try cluster.waitCommitted(highs, seconds: 60)
        #expect(done.totalProcessed == 2001)
        let dead = try readAll(bootstrap: cluster.bootstrap, topic: "events.dlq")
        let predictions = try readAll(bootstrap: cluster.bootstrap, topic: "predictions")
        #expect(predictions.count + dead.count == 2001, "\(predictions.count) predictions + \(dead.count) dead letters")
        let truncated = try #require(dead.first { $0.headers["tributary.truncated"] != nil }, "\(dead.map(\.headers))")
        #expect(truncated.value.count == 64 << 10)
        #expect(truncated.value.allSatisfy { $0 == UInt8(ascii: "x") })
        #expect(truncated.headers["tributary.truncated"]?.hasPrefix("1500000 bytes, first 65536 kept") == true)
        #expect(truncated.headers["tributary.reason"] == "not_json")
        #expect(truncated.headers["tributary.source.partition"] == "0")
        #expect(w.log.contains("could not be produced to events.dlq"))
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}
