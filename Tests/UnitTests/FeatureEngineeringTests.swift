import Testing
@testable import Features

/// Events through one partition's feature path, as a worker runs them.
typealias Partition = PartitionFeatures

extension PartitionFeatures {
    init(_ spec: FeatureSpec) { self.init(spec: spec) }

    @discardableResult
    mutating func feed(_ json: String) throws(EventError) -> FeatureOutcome { try feed(Array(json.utf8)) }

    /// The dense features of an event with key `k`, time `t`, value `x` (and label `y`).
    mutating func at(_ t: Double, _ x: Double, key k: String = "a", y: Double? = nil) throws(EventError) -> [Double] {
        let label = y.map { ",\"y\":\($0)" } ?? ""
        try feed(#"{"user":"\#(k)","ts":\#(t),"x":\#(x)\#(label)}"#)
        return dense
    }
}

func spec(_ aggs: [FeatureSpec.Aggregate], lateness: Double = 0, ttl: Double = 0) -> FeatureSpec {
    var s = FeatureSpec()
    s.numeric = []
    s.aggregates = aggs
    s.allowedLatenessSeconds = lateness
    s.ttlSeconds = ttl
    return s
}

@Suite("Feature engineering: aggregates and windows against hand-computed values")
struct AggregateWindowTests {
    @Test("unwindowed: count, sum, mean, variance, min, max, ewma, last, since_last, distinct")
    func global() throws {
        var p = Partition(spec([.init(field: "x", stats: [.count, .sum, .mean, .variance, .min, .max, .ewma, .last, .sinceLast, .distinct], alpha: 0.5)]))
        _ = try p.at(10, 2)
        _ = try p.at(13, 4)
        let f = try p.at(20, 9)
        // mean 5; sample variance ((2-5)^2 + (4-5)^2 + (9-5)^2) / 2 = 13; ewma: 2 -> 3 -> 6
        #expect(f == [3, 15, 5, 13, 2, 9, 6, 9, 7, 3])
        let g = try p.at(21, 4)
        #expect(g[9] == 3)  // 4 seen before: still 3 distinct
        #expect(try p.at(22, 7, key: "b") == [1, 7, 7, 0, 7, 7, 7, 7, 0, 1])  // keys are independent
    }

    @Test("tumbling: a window per 10 s, the event included")
    func tumbling() throws {
        var p = Partition(spec([.init(field: "x", stats: [.count, .sum], window: .init(kind: .tumbling, size: 10))]))
        #expect(try p.at(1, 1) == [1, 1])
        #expect(try p.at(5, 3) == [2, 4])
        #expect(try p.at(12, 10) == [1, 10])
        #expect(try p.at(19.99, 20) == [2, 30])
        #expect(try p.at(20, 5) == [1, 5])
    }

    @Test("hopping: 10 s windows every 5 s; an event reads the newest window holding it")
    func hopping() throws {
        var p = Partition(spec([.init(field: "x", stats: [.sum, .count], window: .init(kind: .hopping, size: 10, hop: 5))]))
        #expect(try p.at(1, 1) == [1, 1])      // [-5, 5)
        #expect(try p.at(6, 2) == [3, 2])      // [0, 10)
        #expect(try p.at(11, 4) == [6, 2])     // [5, 15)
        #expect(try p.at(12, 8) == [14, 3])    // [5, 15)
        #expect(try p.at(30, 1) == [1, 1])     // [25, 35)
    }

    @Test("sliding: the last 10 s up to the event, (t - 10, t]")
    func sliding() throws {
        var p = Partition(spec([.init(field: "x", stats: [.sum, .count, .mean], window: .init(kind: .sliding, size: 10))]))
        #expect(try p.at(0, 1) == [1, 1, 1])
        #expect(try p.at(5, 2) == [3, 2, 1.5])
        #expect(try p.at(10, 4) == [6, 2, 3])       // 0 has left
        #expect(try p.at(10.5, 8) == [14, 3, 14.0 / 3])
    }

    @Test("session: events of a key at most 5 s apart; an out-of-order event bridges two sessions")
    func session() throws {
        var p = Partition(spec([.init(field: "x", stats: [.count, .sum], window: .init(kind: .session, gap: 5))], lateness: 100))
        #expect(try p.at(0, 1) == [1, 1])
        #expect(try p.at(3, 2) == [2, 3])
        #expect(try p.at(20, 5) == [1, 5])       // gap 17 > 5: a new session
        #expect(try p.at(10, 1) == [1, 1])       // late but allowed: its own session [10, 10]
        #expect(try p.at(7, 10) == [4, 14])      // within 5 of [0, 3] and of [10, 10]: one session
        #expect(try p.at(13, 1) == [5, 15])      // extends the merged [0, 10]
    }

    @Test("out-of-order within the allowed lateness is applied to its own window; beyond it, the late policy")
    func lateness() throws {
        var s = spec([.init(field: "x", stats: [.sum], window: .init(kind: .sliding, size: 10))], lateness: 5)
        var p = Partition(s)
        #expect(try p.at(10, 1) == [1])
        #expect(try p.at(20, 2) == [2])
        #expect(try p.at(16, 4) == [5])          // (6, 16]: 10 and 16; watermark 15
        #expect(try p.feed(#"{"user":"a","ts":14,"x":8}"#) == .late(deadLetter: true))
        #expect(try p.at(21, 1) == [7])          // the late 8 was not added: (11, 21] = 16, 20, 21
        s.lateRecords = .drop
        var q = Partition(s)
        _ = try q.at(20, 1)
        #expect(try q.feed(#"{"user":"a","ts":1,"x":8}"#) == .late(deadLetter: false))
        #expect(q.counters.lateDropped == 1)

        var t = Partition(spec([.init(field: "x", stats: [.sum], window: .init(kind: .tumbling, size: 10))], lateness: 10))
        #expect(try t.at(12, 1) == [1])
        #expect(try t.at(8, 2) == [2])            // window [0, 10) still open (watermark 2)
        #expect(try t.at(15, 3) == [4])           // window [10, 20)
    }

    @Test("idle keys expire after the TTL in event time; an expired key starts over")
    func ttl() throws {
        var p = Partition(spec([.init(field: "x", stats: [.count])], ttl: 10))
        _ = try p.at(0, 1)
        #expect(try p.at(5, 1) == [2])
        _ = try p.at(20, 1, key: "b")
        #expect(try p.at(21, 1) == [1])           // a last seen at 5 < 20 - 10
        #expect(p.counters.expiredKeys == 1)
        _ = try p.at(40, 1, key: "c")
        let records = p.state.capture(p.pipeline, nextOffset: 5)
        #expect(p.state.keys.keys.sorted() == ["c"])  // a and b dropped at capture
        #expect(records.contains { $0.key == Array("ka".utf8) && $0.value == nil } || records.first?.key == Changelog.beginKey)
    }

    @Test("target encoding reads before the event's own label is added")
    func targetEncoding() throws {
        var s = spec([])
        s.targetEncoding = [.init(field: "user", smoothing: 2)]
        var p = Partition(s)
        #expect(try p.at(1, 0, y: 1) == [0.5])                       // no labels yet: prior 0.5
        #expect(try p.at(2, 0, y: 0) == [1.0])                       // (1 + 1 * 2) / (1 + 2)
        #expect(try p.at(3, 0, key: "b", y: 1) == [0.5])             // prior 1/2: (0 + 1) / 2
        let f = try p.at(4, 0)                                       // prior 2/3, a: 1 of 2
        #expect(abs(f[0] - (1 + 2.0 / 3 * 2) / 4) < 1e-15)
    }

    @Test("bad values: dead-letter (state untouched), default, or skip (aggregate read, not updated)")
    func badValues() throws {
        var s = spec([.init(field: "x", stats: [.count, .sum])])
        s.numeric = ["x"]
        var p = Partition(s)
        _ = try p.at(1, 5)
        #expect(throws: EventError.wrongType(field: "x", expected: "a number")) { try p.feed(#"{"user":"a","ts":2,"x":"high"}"#) }
        #expect(try p.at(3, 1) == [1, 2, 6])      // the bad record changed nothing
        s.onBadValue = .default
        s.defaultValue = -1
        var d = Partition(s)
        _ = try d.at(1, 5)
        try d.feed(#"{"user":"a","ts":2}"#)
        #expect(d.dense == [-1, 2, 4])
        #expect(d.counters.badValues["missing_field:x"] == 1)
        s.onBadValue = .skip
        var k = Partition(s)
        _ = try k.at(1, 5)
        try k.feed(#"{"user":"a","ts":2,"x":null}"#)
        #expect(k.dense == [0, 1, 5])
        try k.feed(#"{"user":"a","ts":3,"x":1e999}"#)
        #expect(k.counters.badValues["not_finite:x"] == 1)
    }

    @Test("missing event time is a bad value when windows need it")
    func missingTime() {
        var p = Partition(spec([.init(field: "x", stats: [.sum], window: .init(kind: .tumbling, size: 10))]))
        #expect(throws: EventError.missingField("ts")) { try p.feed(#"{"user":"a","x":1}"#) }
    }
}

@Suite("Feature engineering: categorical and text encodings")
struct EncodingTests {
    @Test("one-hot over the listed values plus <other>; hashing is stable and per field")
    func categorical() throws {
        var s = FeatureSpec()
        s.numeric = []
        s.aggregates = []
        s.hashBits = 10
        s.categorical = [.init(field: "country", encoding: .onehot, values: ["fr", "de"]), .init(field: "device", encoding: .hashed)]
        #expect(s.denseNames == ["country=fr", "country=de", "country=<other>"])
        var p = Partition(s)
        try p.feed(#"{"user":"u","country":"de","device":"ios"}"#)
        #expect(p.dense == [0, 1, 0])
        let first = p.sparse
        #expect(first.count == 1 && first.indices[0] >= 3 && first.indices[0] < 3 + 1024)
        try p.feed(#"{"user":"v","country":"jp","device":"ios"}"#)
        #expect(p.dense == [0, 0, 1])
        #expect(p.sparse == first)  // same value, same slot
        try p.feed(#"{"user":"v","country":"fr","device":"android"}"#)
        #expect(p.dense == [1, 0, 0])
    }

    @Test("text: lower-cased unigrams and bigrams, hashed; case and punctuation do not matter")
    func text() throws {
        var s = FeatureSpec()
        s.numeric = []
        s.aggregates = []
        s.hashBits = 18
        s.text = [.init(field: "text", ngrams: 2)]
        var p = Partition(s)
        try p.feed(#"{"user":"u","text":"Hello, hello world!"}"#)
        // hello, hello, hello|hello, world, hello|world
        #expect(p.sparse.count == 5)
        let a = p.sparse.indices
        #expect(a[0] == a[1])
        try p.feed(#"{"user":"u","text":"HELLO world"}"#)
        // hello, world, hello|world: same slots as before
        #expect(Set(p.sparse.indices).isSubset(of: Set(a)))
        #expect(p.sparse.count == 3)
        s.maxTextBytes = 5
        var q = Partition(s)
        #expect(throws: EventError.oversized(field: "text", limit: 5)) { try q.feed(#"{"user":"u","text":"too long"}"#) }
    }
}

@Suite("Feature state changelog")
struct ChangelogTests {
    static let richSpec: FeatureSpec = {
        var s = FeatureSpec()
        s.numeric = ["x"]
        s.aggregates = [
            .init(field: "x", stats: [.count, .mean, .variance, .min, .max, .ewma, .last, .sinceLast, .distinct]),
            .init(field: "x", stats: [.sum, .distinct], window: .init(kind: .tumbling, size: 10)),
            .init(field: "x", stats: [.sum, .count], window: .init(kind: .hopping, size: 20, hop: 5)),
            .init(field: "x", stats: [.mean, .max], window: .init(kind: .sliding, size: 15)),
            .init(field: "x", stats: [.count, .sum], window: .init(kind: .session, gap: 4)),
        ]
        s.targetEncoding = [.init(field: "user", smoothing: 3)]
        s.allowedLatenessSeconds = 3
        s.ttlSeconds = 30
        s.lateRecords = .drop
        return s
    }()

    /// A deterministic stream with out-of-order times, 40 keys, labels on most events.
    static func events(_ n: Int, seed: UInt64 = 7) -> [String] {
        var r = seed
        func next() -> UInt64 { r = r &* 6364136223846793005 &+ 1442695040888963407; return r >> 33 }
        return (0..<n).map { i in
            let t = Double(i) * 0.5 - Double(next() % 5)
            let x = Double(next() % 1000) / 10
            let y = next() % 4 == 0 ? "" : ",\"y\":\(next() % 2)"
            return #"{"user":"k\#(next() % 40)","ts":\#(t),"x":\#(x)\#(y)}"#
        }
    }

    @Test("restoring from the changelog at any capture point continues with identical features")
    func restoreEquals() throws {
        let evs = Self.events(3000)
        var live = Partition(Self.richSpec)
        var log: [Changelog.Record] = []
        var restorePoints: [Int: Int] = [:]  // event index -> changelog length after the capture
        var expected: [[Double]] = []
        for (i, e) in evs.enumerated() {
            if i % 97 == 0 && i > 0 {
                log += live.state.capture(live.pipeline, nextOffset: Int64(i))
                restorePoints[i] = log.count
            }
            _ = try? live.feed(e)
            expected.append(live.dense)
        }
        #expect(live.counters.lateDropped > 0)
        for point in [97, 970, 2037, 2910] {
            var r = ChangelogRestore(pipeline: live.pipeline)
            let end = restorePoints[point]!
            for rec in log[..<end] { try r.apply(key: rec.key, value: rec.value) }
            // A torn capture after the point (no meta: the writer died) is ignored.
            for rec in log[end...].prefix(5) where rec.key != Changelog.metaKey { try r.apply(key: rec.key, value: rec.value) }
            let (state, next) = r.finish()
            #expect(next == Int64(point))
            var resumed = Partition(Self.richSpec)
            resumed.state = state
            for i in point..<evs.count {
                _ = try? resumed.feed(evs[i])
                if resumed.dense != expected[i] {
                    Issue.record("restored at \(point): event \(i) differs: \(resumed.dense) vs \(expected[i])")
                    break
                }
            }
        }
    }

    @Test("a full snapshot starts a new generation; records before it are ignored")
    func generations() throws {
        var p = Partition(Self.richSpec)
        var log: [Changelog.Record] = []
        for (i, e) in Self.events(400).enumerated() {
            _ = try? p.feed(e)
            if i % 50 == 49 { log += p.state.capture(p.pipeline, nextOffset: Int64(i + 1)) }
        }
        #expect(log.filter { $0.key == Changelog.beginKey }.count == 1)
        p.state.requestFullSnapshot()
        log += p.state.capture(p.pipeline, nextOffset: 400)
        let begins = log.indices.filter { log[$0].key == Changelog.beginKey }
        #expect(begins.count == 2)
        // A broker that dropped everything before the second generation still restores.
        var r = ChangelogRestore(pipeline: p.pipeline)
        for rec in log[(begins[1] - 5)...] { try r.apply(key: rec.key, value: rec.value) }
        let (state, next) = r.finish()
        #expect(next == 400)
        #expect(state.keys.count == p.state.keys.count)
        #expect(state.targets == p.state.targets)
    }
}
