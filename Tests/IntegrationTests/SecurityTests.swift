import Foundation
import Testing
import Config
import Wire
import ZeroMQ

/// Issue 10's authenticated control plane, with real processes and sockets: with
/// `[security] curve = true` only allowed keys get in, and a status key reads status only.
@Suite("CURVE control plane", .serialized)
struct SecurityTests {
    /// `tributary keys generate NAME` in `dir`; returns the pair as files hold it.
    func generate(_ name: String, in dir: String) throws -> CurveKeyPair {
        let p = try Proc("keys-\(name)", ["keys", "generate", name, "--dir", dir])
        #expect(p.wait(seconds: 20) == 0, "\(p.log)")
        let text = try String(contentsOfFile: "\(dir)/\(name).key", encoding: .utf8)
        let parsed = CurveKeyText.parse(text)
        let pair = try #require(parsed.secretKey.flatMap { CurveKeyPair(secretKey: $0) })
        #expect(pair.publicKey == parsed.publicKey)
        // The secret file is private to its owner.
        let mode = try FileManager.default.attributesOfItem(atPath: "\(dir)/\(name).key")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        return pair
    }

    @Test("only allowed keys join: an unknown key, no key, or a status key cannot register, take partitions or read more than status")
    func onlyAllowedKeys() throws {
        let dir = NSTemporaryDirectory() + "tributary-keys-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let coordinator = try generate("coordinator", in: dir)
        let worker = try generate("worker", in: dir)
        let reader = try generate("reader", in: dir)
        let rogue = try generate("rogue", in: dir)
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 4
        [coordinator]
        heartbeat_ms = 250
        failure_timeout_ms = 2000
        [security]
        curve = true
        secret_key_file = "\(dir)/coordinator.key"
        worker_keys = ["\(worker.publicKey)"]
        status_keys = ["\(reader.publicKey)"]
        """)
        let server = ["--server-key", "\(dir)/coordinator.pub"]
        let good = try cluster.worker("good", args: ["--key", "\(dir)/worker.key"] + server)
        let intruders = [
            try cluster.worker("rogue", args: ["--key", "\(dir)/rogue.key"] + server),
            try cluster.worker("readerkey", args: ["--key", "\(dir)/reader.key"] + server),
            try cluster.worker("plain"),
        ]
        let asReader = CurveClient(serverKey: coordinator.publicKey, keys: reader)
        let s = try cluster.waitFor(seconds: 30, "the allowed worker owns every partition", curve: asReader) { s in
            s.unassigned.isEmpty && s.workers.contains { $0.workerId == "good" && $0.partitions.count == 4 }
        }
        // Give the intruders time to try (they say hello every second).
        usleep(3_000_000)
        let later = try cluster.status(curve: asReader)
        #expect(later.workers.map(\.workerId) == ["good"], "\(later.workers.map(\.workerId))")
        #expect(later.curve)
        #expect(later.connectionsRefused >= 1, "the unknown key is refused at the handshake")
        #expect(later.messagesForbidden >= 1, "the status key's hellos are refused")
        #expect(s.workers.count == 1)
        // Status needs an allowed key: an unknown key or none gets no answer.
        #expect(throws: (any Error).self) { try cluster.status(curve: CurveClient(serverKey: coordinator.publicKey, keys: rogue)) }
        #expect(throws: (any Error).self) { try cluster.status() }
        // The allowed worker does its job over the encrypted link.
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "2000"])
        #expect(gen.wait(seconds: 60) == 0)
        let done = try cluster.waitFor(seconds: 60, "every record processed", curve: asReader) { s in
            s.workers.first?.report?.processed == 2000
        }
        #expect(done.workers.first?.report?.predictions == 2000)
        let log = cluster.coordinator.log
        #expect(log.contains("unknown CURVE key \(rogue.publicKey)"), "the refusal is logged with the key")
        for p in intruders + [good] { p.signal(SIGTERM) }
        #expect(good.wait(seconds: 20) == 0)
    }
}
