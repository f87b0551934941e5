import Foundation
import Testing
import Config
import Wire
import ZeroMQ

/// The coordinator's averaging over real ZeroMQ: test-driven DEALER sockets register as
/// workers (the coordinator cannot tell them from real ones) and send known deltas.
@Suite("Parameter averaging, live", .serialized)
struct AveragingTests {
    static let width = ClusterConfig().features.featureNames.count + 1

    final class FakeWorker {
        let socket: ZmqSocket
        let id: String
        init(_ ctx: ZmqContext, _ endpoint: String, _ id: String) throws {
            self.id = id
            socket = try ZmqSocket(ctx, .dealer, lingerMs: 0)
            try socket.setIdentity(Array(id.utf8))
            try socket.connect(endpoint)
            try socket.send(WireCodec.encode(.hello(Hello(workerId: id, host: "test", pid: 1, held: []))))
        }
        /// Reads messages until `match` returns a value (answers nothing; heartbeats via `beat`).
        func await<T>(seconds: Double, _ match: (WireMessage) -> T?) throws -> T {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                try socket.send(WireCodec.encode(.heartbeat(WorkerReport(workerId: id))))
                if zmqPollReadable([socket], timeoutMs: 100)[0], let m = try? WireCodec.decode(try socket.receive()[...]),
                   let v = match(m) { return v }
            }
            throw HarnessError("\(id): nothing matching within \(seconds) s")
        }
    }

    @Test("three workers' known deltas give exactly the sample-weighted average, versioned")
    func handCheckedMerge() throws {
        // The plain rule (robust clipping, tested in SyncTests, would clip c's delta: 3x the median).
        let cluster = try Cluster.start(config: "[model]\nsync_interval_ms = 300\nrobust_averaging = \"off\"\n[kafka]\npartitions = 3")
        let ctx = ZmqContext()
        let ws = try ["a", "b", "c"].map { try FakeWorker(ctx, cluster.endpoint, $0) }
        let w = Self.width
        for fw in ws {
            let welcome = try fw.await(seconds: 10) { if case .welcome(let x) = $0 { return x } else { return nil } }
            #expect(welcome.modelVersion == 0 && welcome.modelParameters == [Double](repeating: 0, count: w))
        }
        let samples = [100, 300, 600]
        var deltas: [[Double]] = []
        for k in 0..<3 {
            let sign: Double = k == 1 ? -0.5 : 1
            deltas.append((0..<w).map { i in Double((k + 1) * (i + 1)) * sign })
        }
        for (k, fw) in ws.enumerated() {
            try fw.socket.send(WireCodec.encode(.modelDelta(ModelDelta(workerId: fw.id, seq: 1, baseVersion: 0,
                                                                       samples: samples[k], delta: deltas[k]))))
        }
        let update = try ws[0].await(seconds: 10) { m -> ModelUpdate? in
            if case .modelUpdate(let u) = m, u.contributions.count == 3 { return u } else { return nil }
        }
        #expect(update.contributions == ["a": 1, "b": 1, "c": 1])
        #expect(update.version == 1)
        for i in 0..<w {
            let expected = (0.1 * deltas[0][i] + 0.3 * deltas[1][i] + 0.6 * deltas[2][i])
            #expect(abs(update.parameters[i] - expected) < 1e-12, "parameter \(i): \(update.parameters[i]) vs \(expected)")
        }
        // Every worker receives the same version.
        for fw in ws.dropFirst() {
            let u = try fw.await(seconds: 5) { m -> ModelUpdate? in if case .modelUpdate(let u) = m { return u } else { return nil } }
            #expect(u == update)
        }
        #expect(try cluster.status().modelVersion == 1)

        // A poisoned delta (NaN) is rejected and counted; the model does not move.
        try ws[1].socket.send(WireCodec.encode(.modelDelta(ModelDelta(workerId: "b", seq: 2, baseVersion: 1, samples: 10,
                                                                      delta: [Double](repeating: .nan, count: w)))))
        let s = try cluster.waitFor(seconds: 5, "the NaN delta counted as rejected") { $0.rejectedDeltas == 1 }
        #expect(s.modelVersion == 1)
    }

    @Test("kill -9 and restart the coordinator: the global version continues from the checkpoint")
    func checkpointResume() throws {
        let path = NSTemporaryDirectory() + "avg-\(getpid()).conf"
        // Versions travel as int8 differences: the restarted coordinator holds no view of what
        // workers hold, so its first version must go whole, and workers must follow it.
        try "[model]\nsync_interval_ms = 300\nversion_compression = \"int8\"\n[kafka]\npartitions = 4".write(toFile: path, atomically: true, encoding: .utf8)
        let broker = try Proc("broker", ["broker", "--config", path, "--brokers", "1"])
        let bootstrap = String(try #require(broker.readLine()).dropFirst("bootstrap ".count))
        var coord = try Proc("coordinator", ["coordinator", "--config", path, "--bind", "tcp://127.0.0.1:*", "--bootstrap", bootstrap])
        let endpoint = try #require(coord.readLine()).split(separator: " ").map(String.init)[1]
        var cluster = Cluster(coordinator: coord, endpoint: endpoint, bootstrap: bootstrap)
        let workers = try ["m1", "m2"].map { try cluster.worker($0) }
        try cluster.waitFor(seconds: 20, "2 workers") { $0.workers.count == 2 && $0.unassigned.isEmpty }
        let gen = try Proc("produce", ["produce", "--bootstrap", bootstrap, "--count", "20000", "--rate", "4000"])
        let before = try cluster.waitFor(seconds: 20, "a few global versions") { $0.modelVersion >= 3 }
        coord.signal(SIGKILL)
        _ = coord.wait(seconds: 5)
        coord = try Proc("coordinator2", ["coordinator", "--config", path, "--bind", endpoint, "--bootstrap", bootstrap])
        _ = coord.readLine()
        cluster = Cluster(coordinator: coord, endpoint: endpoint, bootstrap: bootstrap)
        // Right after the restart: resumed, never behind what was published before the kill.
        let resumed = try cluster.status()
        #expect(resumed.modelVersion >= before.modelVersion)
        #expect(coord.log.contains("resumed global model version"), "\(coord.log)")
        // Workers re-register, follow the new coordinator's versions and keep what they learnt:
        // their progressive accuracy stays high.
        let later = try cluster.waitFor(seconds: 20, "new versions after the restart, workers reporting") { s in
            s.modelVersion > resumed.modelVersion && s.workers.count == 2 && s.workers.allSatisfy { $0.report != nil }
        }
        #expect(later.accuracy > 0.8)
        #expect(later.workers.allSatisfy { ($0.report?.modelVersion ?? 0) > before.modelVersion - 1 })
        #expect(gen.wait(seconds: 60) == 0)
        for w in workers { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
        // No worker ever lacked the version a difference was taken from.
        for w in workers { #expect(!w.log.contains("asking for it whole"), "\(w.log)") }
    }

    @Test("versions travel as int8 differences to workers holding the one before; a new worker and one that missed a version get it whole")
    func versionDiffs() throws {
        let cluster = try Cluster.start(config: "[model]\nsync_interval_ms = 200\nrobust_averaging = \"off\"\nversion_compression = \"int8\"\n[kafka]\npartitions = 2")
        let ctx = ZmqContext()
        let w = Self.width
        // Only a sends deltas, one per version: version k's merged parameters are d1 + ... + dk.
        let a = try FakeWorker(ctx, cluster.endpoint, "a"), b = try FakeWorker(ctx, cluster.endpoint, "b")
        for fw in [a, b] { _ = try fw.await(seconds: 10) { if case .welcome(let x) = $0 { return x } else { return nil } } }
        func delta(_ k: Int) -> [Double] { (0..<w).map { i in Double(k * (i + 1)) * (i % 2 == 0 ? 0.01 : -0.003) } }
        func version(_ v: Int, at fw: FakeWorker) throws -> ModelUpdate {
            try fw.await(seconds: 10) { m -> ModelUpdate? in if case .modelUpdate(let u) = m, u.version == v { return u } else { return nil } }
        }
        var exact = [Double](repeating: 0, count: w)
        func send(_ k: Int) throws {
            let d = delta(k)
            for i in exact.indices { exact[i] += d[i] }
            try a.socket.send(WireCodec.encode(.modelDelta(ModelDelta(workerId: "a", seq: k, baseVersion: k - 1, samples: 50, delta: d))))
        }
        try send(1)
        let v1 = try version(1, at: a), v1b = try version(1, at: b)
        // The first version of a coordinator goes whole and exact.
        #expect(v1.diffFrom == nil && v1.parameters == exact && v1b.parameters == exact)
        try send(2)
        let v2 = try version(2, at: a), v2b = try version(2, at: b)
        #expect(v2.diffFrom == 1 && v2.diff?.kind == "int8" && v2.parameters.isEmpty)
        #expect(v2 == v2b)
        let held2 = try #require(v2.diff?.apply(to: v1.parameters[...]))
        let largest = delta(2).map(abs).max()!
        for i in 0..<w { #expect(abs(held2[i] - exact[i]) <= largest / 254 * 1.0001, "weight \(i): \(held2[i]) vs \(exact[i])") }
        // c joins after version 2 (welcomed with the merged parameters): version 3 reaches it whole.
        let c = try FakeWorker(ctx, cluster.endpoint, "c")
        let welcome = try c.await(seconds: 10) { if case .welcome(let x) = $0 { return x } else { return nil } }
        #expect(welcome.modelVersion == 2)
        try send(3)
        let v3 = try version(3, at: a), v3c = try version(3, at: c)
        #expect(v3.diffFrom == 2 && v3c.diffFrom == nil)
        let held3 = try #require(v3.diff?.apply(to: held2[...]))
        #expect(held3 == v3c.parameters, "a worker's rebuilt version must be the version sent whole")
        // a reports that it could not apply version 3: it gets it whole, the same weights.
        var report = WorkerReport(workerId: "a")
        report.modelMissed = 3
        let deadline = Date().addingTimeInterval(10)
        var resent: ModelUpdate?
        while resent == nil && Date() < deadline {
            try a.socket.send(WireCodec.encode(.heartbeat(report)))
            if zmqPollReadable([a.socket], timeoutMs: 100)[0], case .modelUpdate(let u)? = try? WireCodec.decode(try a.socket.receive()[...]),
               u.version == 3 { resent = u }
        }
        let whole = try #require(resent, "version 3 was not sent again whole after the miss")
        #expect(whole.diffFrom == nil && whole.parameters == held3)
        #expect(cluster.coordinator.log.contains("a lacks the version before 3"), "\(cluster.coordinator.log)")
    }

    @Test("a host's relay: two workers' deltas reach the coordinator combined, both follow every version, and the cluster learns")
    func relay() throws {
        let cluster = try Cluster.start(config: "[model]\nsync_interval_ms = 300\n[kafka]\npartitions = 4")
        let relay = try Proc("relay", ["relay", "--coordinator", cluster.endpoint, "--bind", "tcp://127.0.0.1:*", "--id", "relay-test",
                                       "--compression", "int8", "--log-level", "debug"])
        let line = try #require(relay.readLine(), "relay did not start: \(relay.log)")
        let parts = line.split(separator: " ").map(String.init)
        try #require(parts.count >= 2 && parts[0] == "relay", "\(line)")
        let workers = try ["r1", "r2"].map { try cluster.worker($0, args: ["--relay", parts[1]]) }
        try cluster.waitFor(seconds: 20, "2 workers") { $0.workers.count == 2 && $0.unassigned.isEmpty }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "20000", "--rate", "4000"])
        let s = try cluster.waitFor(seconds: 30, "versions merged from the relay's deltas, both workers on them") { s in
            s.modelVersion >= 5 && s.workers.count == 2
                && s.workers.allSatisfy { ($0.report?.modelVersion ?? 0) >= 4 && ($0.report?.labelled ?? 0) > 0 }
        }
        #expect(gen.wait(seconds: 60) == 0)
        let done = try cluster.waitFor(seconds: 30, "every event processed") { s in
            s.workers.compactMap { $0.report?.processed }.reduce(0, +) >= 20000
        }
        #expect(done.accuracy > 0.8, "accuracy \(done.accuracy)")
        #expect(done.rejectedDeltas == 0 && s.rejectedDeltas == 0)
        #expect((done.relays?["relay-test"] ?? 0) >= 4, "\(String(describing: done.relays))")
        relay.signal(SIGTERM)
        #expect(relay.wait(seconds: 10) == 0, "\(relay.log)")
        // Rounds with both workers' deltas went as one; the relay accounts for every delta.
        #expect(relay.log.contains(": 2 workers,"), "\(relay.log)")
        let stopped = try #require(relay.log.split(separator: "\n").first { $0.contains("stopped:") }, "\(relay.log)")
        #expect(stopped.contains(", 0 refused,") && stopped.hasSuffix(", 0 lost"), "\(stopped)")
        #expect(!cluster.coordinator.log.contains("ignored a combined model delta"), "\(cluster.coordinator.log)")
        // The relay is gone: deltas sent to it are never merged, so after five sync intervals
        // the workers send straight to the coordinator, and the model keeps moving.
        let before = try cluster.status().modelVersion
        let more = try Proc("produce-more", ["produce", "--bootstrap", cluster.bootstrap, "--count", "12000", "--rate", "2000"])
        try cluster.waitFor(seconds: 30, "new versions without the relay") { $0.modelVersion >= before + 3 }
        #expect(more.wait(seconds: 60) == 0)
        for w in workers { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
        #expect(workers.contains { $0.log.contains("sending the next 10 straight to the coordinator") }, "\(workers.map(\.log))")
    }

    @Test("model export, rollback and import: the global model becomes exactly the chosen parameters")
    func exportRollbackImport() throws {
        let cluster = try Cluster.start(config: "[model]\nsync_interval_ms = 200")
        let workers = try ["e1", "e2"].map { try cluster.worker($0) }
        try cluster.waitFor(seconds: 20, "2 workers") { $0.workers.count == 2 && $0.unassigned.isEmpty }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "20000", "--rate", "8000"])
        try cluster.waitFor(seconds: 20, "a few global versions") { $0.modelVersion >= 3 }

        struct ModelFile: Decodable { var version: Int; var features: [String]; var parameters: [Double] }
        func export(_ name: String) throws -> ModelFile {
            let path = NSTemporaryDirectory() + "\(name)-\(getpid()).json"
            let p = try Proc("export", ["model", "export", "--coordinator", cluster.endpoint, path])
            #expect(p.wait(seconds: 20) == 0, "\(p.log)")
            return try JSONDecoder().decode(ModelFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        }
        let a = try export("a")
        #expect(a.version >= 3)
        #expect(a.parameters.count == AveragingTests.width && a.features.count == AveragingTests.width - 1)
        #expect(gen.wait(seconds: 60) == 0)
        // Let the last deltas merge: once every event is learnt, a worker's last delta goes out
        // within a sync interval (200 ms), so a version unchanged for 1.5 s is final.
        try cluster.waitFor(seconds: 30, "every event processed") { s in
            s.workers.compactMap { $0.report?.processed }.reduce(0, +) >= 20000
        }
        var settled = try cluster.status()
        var unchangedSince = Date()
        let deadline = Date().addingTimeInterval(30)
        while Date().timeIntervalSince(unchangedSince) < 1.5 {
            try #require(Date() < deadline, "the model version kept moving after every event was processed")
            usleep(300_000)
            let s = try cluster.status()
            if s.modelVersion != settled.modelVersion { settled = s; unchangedSince = Date() }
        }
        #expect(settled.modelVersion >= a.version)

        let rb = try Proc("rollback", ["model", "rollback", "--coordinator", cluster.endpoint, String(a.version)])
        #expect(rb.wait(seconds: 30) == 0, "\(rb.log)")
        let afterRollback = try export("b")
        #expect(afterRollback.version > settled.modelVersion)
        #expect(afterRollback.parameters == a.parameters, "rollback must restore version \(a.version) exactly")
        try cluster.waitFor(seconds: 10, "workers adopt the rolled-back version") { s in
            s.workers.allSatisfy { ($0.report?.modelVersion ?? 0) == afterRollback.version }
        }

        // Errors name the problem and change nothing.
        let missing = try Proc("rollback-missing", ["model", "rollback", "--coordinator", cluster.endpoint, "99999"])
        #expect(missing.wait(seconds: 30) == 2)
        #expect(missing.log.contains("version 99999 is not in tributary.models"), "\(missing.log)")
        let bad = NSTemporaryDirectory() + "bad-model-\(getpid()).json"
        try #"{"version": 1, "features": [], "parameters": [1, 2]}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let wrong = try Proc("import-wrong", ["model", "import", "--coordinator", cluster.endpoint, bad])
        #expect(wrong.wait(seconds: 30) == 2)
        #expect(wrong.log.contains("got 2"), "\(wrong.log)")

        // Import: the exported file becomes the next version, exactly.
        let path = NSTemporaryDirectory() + "a-\(getpid()).json"
        let imp = try Proc("import", ["model", "import", "--coordinator", cluster.endpoint, path])
        #expect(imp.wait(seconds: 30) == 0, "\(imp.log)")
        let afterImport = try export("c")
        #expect(afterImport.version == afterRollback.version + 1)
        #expect(afterImport.parameters == a.parameters)
        for w in workers { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
    }
}
