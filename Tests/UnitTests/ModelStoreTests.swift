import Foundation
import Testing
import Config
import Models
@testable import Coordinator
@testable import Wire

@Suite("Model store: binary checkpoints in bounded, broker-sized records")
struct ModelStoreTests {
    static func checkpoint(_ version: Int, width: Int, seed: UInt64 = 1, everyNth: Int = 1) -> ModelCheckpoint {
        var g = SplitMix(seed: seed &+ UInt64(version))
        let p = (0..<width).map { i in i % everyNth == 0 ? g.nextDouble() * 2 - 1 : 0 }
        return ModelCheckpoint(version: version, parameters: p, features: ["a", "b"], wallMs: 1_700_000_000_000 + Int64(version),
                               scaler: [1, 2, 3], layout: nil)
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    @Test("dense and sparse parameters round-trip bit for bit (-0.0, NaN, subnormals, infinities); sparse is chosen only when smaller")
    func binaryRoundTrip() throws {
        var dense = Self.checkpoint(3, width: 1000)
        dense.parameters[0] = -0.0
        dense.parameters[1] = .nan
        dense.parameters[2] = .leastNonzeroMagnitude
        dense.parameters[3] = -.infinity
        let back = try ModelCheckpoint(binary: dense.binary())
        #expect(back.parameters.map(\.bitPattern) == dense.parameters.map(\.bitPattern))
        #expect(back.version == 3 && back.features == ["a", "b"] && back.scaler == [1, 2, 3] && back.wallMs == dense.wallMs)
        #expect(dense.binary().count > 8000, "dense: 8 bytes per weight")

        let sparse = Self.checkpoint(4, width: 1 << 18, everyNth: 1000)
        let bytes = sparse.binary()
        #expect(bytes.count < 263 * 12 + 200, "263 nonzero weights of 2^18 take \(bytes.count) bytes, not 2 MiB")
        #expect(try ModelCheckpoint(binary: bytes) == sparse)
    }

    @Test("damaged bytes are a typed error naming what is wrong, never a crash")
    func damaged() throws {
        let b = Self.checkpoint(5, width: 100).binary()
        #expect(throws: CheckpointError.self) { try ModelCheckpoint(binary: Array(b.dropLast(3))) }
        #expect(throws: CheckpointError.self) { try ModelCheckpoint(binary: Array("TRBX".utf8) + b.dropFirst(4)) }
        #expect(throws: CheckpointError.self) { try ModelCheckpoint(binary: b + [0]) }
        var hugeCount = b
        // The parameter count sits right after the metadata and the encoding byte.
        let metaLength = Int(b[4]) | Int(b[5]) << 8
        hugeCount[8 + metaLength + 1 + 7] = 0x7F
        do { _ = try ModelCheckpoint(binary: hugeCount); Issue.record("a 2^62-weight header was accepted") } catch {
            #expect(error.description.contains("parameters"), "\(error)")
        }
        var g = SplitMix(seed: 9)
        for _ in 0..<2000 {
            var m = b
            for _ in 0..<3 { m[Int(g.next() % UInt64(m.count))] = UInt8(truncatingIfNeeded: g.next()) }
            _ = try? ModelCheckpoint(binary: m)
            _ = try? CheckpointChunk(parsing: m)
        }
    }

    @Test("a 2^20-weight dense model: every record at most 512 KiB; 200 versions use a bounded set of keys")
    func recordsAndKeys() throws {
        let records = ModelStore(slots: 5).records(Self.checkpoint(1, width: 1 << 20))
        #expect(records.count == 17, "8 MiB + metadata in 512 KiB records")
        #expect(records.allSatisfy { $0.value.count <= 512 << 10 })
        var a = CheckpointAssembler()
        for r in records { a.add(r.value) }
        #expect(a.newest() == Self.checkpoint(1, width: 1 << 20))

        // The key space: slots x chunks, whatever the number of versions.
        let store = ModelStore(slots: 5, maxRecordBytes: 4096)
        var keys = Set<[UInt8]>()
        for v in 1...200 { for r in store.records(Self.checkpoint(v, width: 4000)) { keys.insert(r.key) } }
        #expect(keys.count == 5 * 8, "\(keys.count) keys for 200 versions")
    }

    /// What a compacted topic keeps: the newest value per key, in log order.
    static func compacted(_ log: [ModelStore.Record]) -> [[UInt8]] {
        var last: [[UInt8]: Int] = [:]
        for (i, r) in log.enumerated() { last[r.key] = i }
        return last.values.sorted().map { log[$0].value }
    }

    @Test("restore takes the newest complete version; a torn write (killed mid-checkpoint) and stale chunks under reused keys are ignored")
    func tornAndCompacted() throws {
        let store = ModelStore(slots: 4, maxRecordBytes: 4096)
        var log: [ModelStore.Record] = []
        for v in 1...12 { log += store.records(Self.checkpoint(v, width: 2000)) }
        let torn = store.records(Self.checkpoint(13, width: 2000))
        #expect(torn.count == 4)
        log += torn.prefix(2)

        var uncompacted = CheckpointAssembler()
        for r in log { uncompacted.add(r.value) }
        #expect(uncompacted.newest()?.version == 12)
        #expect(uncompacted.newest() == Self.checkpoint(12, width: 2000))
        #expect(uncompacted.versions == Array(1...12))

        // Compacted: 13's two chunks replaced two of 9's (same slot), so 9 is gone too.
        var a = CheckpointAssembler()
        for v in Self.compacted(log) { a.add(v) }
        #expect(a.versions == [10, 11, 12])
        #expect(a.newest()?.version == 12)
        #expect(a.checkpoint(version: 9) == nil && a.checkpoint(version: 13) == nil)
        #expect(a.checkpoint(version: 10) == Self.checkpoint(10, width: 2000))
        #expect(a.unreadable.isEmpty)
    }

    @Test("a chunk whose bytes changed fails the hash: that version is skipped for the one before; a retried write of one version is read whole")
    func corruptAndRetried() throws {
        let store = ModelStore(slots: 8, maxRecordBytes: 1024)
        var values = store.records(Self.checkpoint(1, width: 500)).map(\.value)
        var second = store.records(Self.checkpoint(2, width: 500)).map(\.value)
        second[1][CheckpointChunk.headerBytes + 5] ^= 0xFF
        values += second
        var a = CheckpointAssembler()
        for v in values { a.add(v) }
        #expect(a.newest()?.version == 1)

        // A write that failed half-way and was written again (another wall time, so other bytes).
        var b = CheckpointAssembler()
        var retried = Self.checkpoint(3, width: 500)
        for v in store.records(retried).prefix(2) { b.add(v.value) }
        retried.wallMs += 1000
        for v in store.records(retried) { b.add(v.value) }
        #expect(b.newest() == retried)
    }

    @Test("records of older coordinators (one JSON checkpoint each) are still read; other bytes are counted as unreadable")
    func legacy() throws {
        let cp = Self.checkpoint(7, width: 10)
        var a = CheckpointAssembler()
        a.add(Array(try JSONEncoder().encode(cp)))
        a.add(Array("hello".utf8))
        #expect(a.newest() == cp)
        #expect(a.unreadable.count == 1)
        #expect(try ModelCheckpoint(file: Array(try JSONEncoder().encode(cp))) == cp)
        #expect(try ModelCheckpoint(file: cp.binary()) == cp)
    }

    @Test("a model update of 2^22 + 3 weights and a welcome with 2^20 cross the wire in frames of at most 4 MiB, exactly")
    func wireFrames() throws {
        // 2^24 weights are 32 such frames; 2^22 + 3 keeps the test quick under sanitizers
        // and still ends in a partial frame.
        let big = (0..<(1 << 22) + 3).map { Double($0) * 0.5 }
        let u = WireMessage.modelUpdate(ModelUpdate(version: 9, contributions: ["w": 1], parameters: big))
        let frames = WireCodec.encode(u)
        #expect(frames.count == 2 + 9)
        #expect(frames.allSatisfy { $0.count <= WireCodec.maxFrameBytes })
        #expect(try WireCodec.decode(frames[...]) == u)

        let params = Array(big.prefix(1 << 20))
        let w = WireMessage.welcome(Welcome(workerId: "w1", bootstrap: "b:1", settings: WorkerSettings(ClusterConfig()), heartbeatMs: 500,
                                            leaseMs: 2000, modelVersion: 4, modelParameters: params))
        let wf = WireCodec.encode(w)
        #expect(wf[1].count < 64 << 10, "the welcome's JSON body carries no parameters")
        #expect(wf.allSatisfy { $0.count <= WireCodec.maxFrameBytes })
        #expect(try WireCodec.decode(wf[...]) == w)

        // A split payload whose parts exceed the frame size is refused.
        var bad = frames
        bad[2] += [0, 0, 0, 0, 0, 0, 0, 0]
        #expect(throws: WireError.self) { try WireCodec.decode(bad[...]) }
    }
}
