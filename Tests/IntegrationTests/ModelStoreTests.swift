import Foundation
import Testing
import Coordinator
import Wire
import ZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// Issue 20's model store on a real Kafka-protocol broker: checkpoints of a large dense model
/// fit a broker's default record limit, live under a bounded set of keys, and a coordinator
/// killed mid-checkpoint resumes the newest complete version.
@Suite("Model store on Tansu", .serialized)
struct ModelStoreLiveTests {
    static let slots = 4

    /// One model command over a REQ socket, as `tributary model` sends it; "busy" is retried.
    static func command(_ endpoint: String, _ c: ModelCommand) throws -> Result<ModelUpdate, HarnessError> {
        for _ in 0..<40 {
            let ctx = ZmqContext()
            let req = try ZmqSocket(ctx, .req, lingerMs: 0)
            try req.connect(endpoint)
            try req.send(WireCodec.encode(.modelCommand(c)))
            guard zmqPollReadable([req], timeoutMs: 60_000)[0] else { throw HarnessError("no answer to \(c.action) within 60 s") }
            switch try WireCodec.decode(try req.receive()[...]) {
            case .modelUpdate(let u): return .success(u)
            case .error(let e) where e.message.hasPrefix("busy:"): usleep(250_000)
            case .error(let e): return .failure(HarnessError(e.message))
            case let other: throw HarnessError("unexpected answer \(other.typeName)")
            }
        }
        throw HarnessError("the coordinator stayed busy")
    }

    @Test("a 2^20-weight dense model, 40 versions: every model-topic record at most 512 KiB, keys bounded by keep_versions; after kill -9 mid-checkpoint and a torn write, the restarted coordinator resumes the newest complete version exactly")
    func denseModelOnTansu() throws {
        let tansu = try Tansu()
        let config = """
        [kafka]
        bootstrap = "\(tansu.bootstrap)"
        [features]
        numeric = ["x.f0"]
        text = [{ field = "text" }]
        hash_bits = 20
        aggregates = []
        [model]
        sync_interval_ms = 0
        keep_versions = \(Self.slots)
        """
        var cluster = try Cluster.start(config: config, env: tansu.env)
        let initial = try Self.command(cluster.endpoint, ModelCommand(action: "export")).get()
        let width = initial.parameters.count
        #expect(width > 1 << 20)

        // Weights in (-1, 1), none zero: a dense checkpoint (8 bytes each). A plain xorshift,
        // as the system generator's per-call cost dominated this test.
        var state = UInt64.random(in: 1...UInt64.max)
        func dense() -> [Double] {
            [Double](unsafeUninitializedCapacity: width) { out, n in
                var i = 0
                while i < width {
                    state ^= state << 13; state ^= state >> 7; state ^= state << 17
                    out[i] = Double(state >> 11 | 1) / Double(1 << 52) - 1
                    i += 1
                }
                n = width
            }
        }
        var sent: [Int: [Double]] = [:]
        for _ in 0..<40 {
            let p = dense()
            let u = try Self.command(cluster.endpoint, ModelCommand(action: "import", parameters: p)).get()
            #expect(u.parameters == p)
            sent[u.version] = p
        }
        let acked = try #require(sent.keys.max())

        // One more import, and kill -9 while its 17 records are being written (or just before
        // or after: every case must resume a complete version).
        let last = dense()
        let ctx = ZmqContext()
        let req = try ZmqSocket(ctx, .req, lingerMs: 0)
        try req.connect(cluster.endpoint)
        try req.send(WireCodec.encode(.modelCommand(ModelCommand(action: "import", parameters: last))))
        usleep(UInt32.random(in: 20_000...120_000))
        cluster.coordinator.signal(SIGKILL)
        _ = cluster.coordinator.wait(seconds: 10)

        // A torn write of a later version, as a coordinator killed after 3 of its records leaves.
        let torn = ModelStore(slots: Self.slots).records(ModelCheckpoint(version: acked + 50, parameters: dense(),
                                                                         features: initial.features, wallMs: 0))
        let lines = torn.prefix(3).map { r in
            "{\"key\": \"\(String(decoding: r.key, as: UTF8.self))\", \"value_b64\": \"\(Data(r.value).base64EncodedString())\"}"
        }.joined(separator: "\n")
        let input = NSTemporaryDirectory() + "torn-\(getpid()).jsonl"
        try lines.write(toFile: input, atomically: true, encoding: .utf8)
        #expect(sh("python3 '\(repoRoot)/tools/produce_records.py' --bootstrap \(tansu.bootstrap) --topic tributary.models < '\(input)'") == 0)

        cluster = try Cluster.start(config: config, env: tansu.env)
        #expect(cluster.coordinator.log.contains("resumed global model version"), "\(cluster.coordinator.log)")
        let resumed = try Self.command(cluster.endpoint, ModelCommand(action: "export")).get()
        #expect(resumed.version == acked || resumed.version == acked + 1, "resumed \(resumed.version), acknowledged \(acked)")
        #expect(resumed.parameters == (resumed.version == acked ? sent[acked]! : last), "the resumed version's parameters, exactly")

        // Rollback reaches a kept version, exactly.
        let back = try Self.command(cluster.endpoint, ModelCommand(action: "rollback", version: acked - 2)).get()
        #expect(back.parameters == sent[acked - 2])

        let records = try readTopic(bootstrap: tansu.bootstrap, topic: "tributary.models", sizes: true)
        #expect(records.count >= 41 * 17)
        #expect(records.allSatisfy { $0.size <= 512 << 10 }, "largest record \(records.map(\.size).max() ?? 0) bytes")
        let keys = Set(records.map(\.key))
        #expect(keys.count <= Self.slots * 17, "\(keys.count) distinct keys for \(records.count / 17) versions")
        cluster.coordinator.signal(SIGTERM)
        #expect(cluster.coordinator.wait(seconds: 20) == 0)
    }
}

@Suite("Topics on Tansu", .serialized)
struct TopicCheckTests {
    @Test("an existing model topic with cleanup.policy=delete is named in a warning with the fix; the changelog topic Tributary creates is compacted")
    func cleanupPolicy() throws {
        let tansu = try Tansu()
        #expect(sh("python3 '\(repoRoot)/tools/topic_admin.py' --bootstrap \(tansu.bootstrap) create tributary.models --config cleanup.policy=delete") == 0)
        let cluster = try Cluster.start(config: """
        [kafka]
        bootstrap = "\(tansu.bootstrap)"
        """, env: tansu.env)
        let status = try cluster.status()
        #expect(status.partitionCount == 4)
        // The check runs beside the start (a broker may answer it only with a timeout).
        let deadline = Date().addingTimeInterval(15)
        while !cluster.coordinator.log.contains("cleanup.policy=delete") && Date() < deadline { usleep(100_000) }
        cluster.coordinator.signal(SIGTERM)
        #expect(cluster.coordinator.wait(seconds: 20) == 0)
        let log = cluster.coordinator.log
        #expect(log.contains("topic tributary.models (kafka.model_topic) has cleanup.policy=delete, not compact"), "\(log)")
        #expect(log.contains("--add-config cleanup.policy=compact"))

        let path = NSTemporaryDirectory() + "describe-\(getpid()).json"
        #expect(sh("python3 '\(repoRoot)/tools/topic_admin.py' --bootstrap \(tansu.bootstrap) describe tributary.features > '\(path)'") == 0)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: String]
        #expect(config?["cleanup.policy"] == "compact", "\(String(describing: config))")
    }
}
