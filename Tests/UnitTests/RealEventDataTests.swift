import Foundation
import Testing
@testable import Features

/// Issue 20: event data as real systems write it (epoch-ms and ISO-8601 times, a key field
/// that is also a feature, numbers of any length).
@Suite("Real event data")
struct RealEventDataTests {
    /// Windows of every kind, a TTL and since_last: everything event time drives.
    static func timeSpec(_ unit: FeatureSpec.TimestampUnit) -> FeatureSpec {
        var s = FeatureSpec()
        s.numeric = []
        s.timestampUnit = unit
        s.ttlSeconds = 7
        s.allowedLatenessSeconds = 2
        s.aggregates = [
            .init(field: "x", stats: [.count, .sinceLast]),
            .init(field: "x", stats: [.sum], window: .init(kind: .tumbling, size: 5)),
            .init(field: "x", stats: [.mean], window: .init(kind: .hopping, size: 4, hop: 1)),
            .init(field: "x", stats: [.max], window: .init(kind: .sliding, size: 3)),
            .init(field: "x", stats: [.count], window: .init(kind: .session, gap: 2.5)),
        ]
        return s
    }

    /// A stream of (key, time in ms since the epoch, value): out of order at times, gaps past the TTL.
    static let stream: [(String, Int64, Int)] = {
        var out: [(String, Int64, Int)] = []
        var t: Int64 = 1_764_600_000_123
        var seed: UInt64 = 42
        func next() -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return seed >> 33 }
        for i in 0..<600 {
            t += Int64(next() % 900) + (i % 97 == 0 ? 9_000 : 0)
            let jitter = Int64(next() % 1500)
            out.append(("k\(next() % 7)", t - jitter, Int(next() % 100)))
        }
        return out
    }()

    /// The instant in Paris winter time (+01:00), milliseconds written out: no floating point.
    static func iso(_ ms: Int64) -> String {
        var t = time_t(ms / 1000 + 3600)
        var c = tm()
        gmtime_r(&t, &c)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03d+01:00", c.tm_year + 1900, c.tm_mon + 1, c.tm_mday,
                      c.tm_hour, c.tm_min, c.tm_sec, Int32(ms % 1000))
    }

    static func timeText(_ ms: Int64, _ unit: FeatureSpec.TimestampUnit) -> String {
        let s = ms / 1000, frac = String(format: "%03d", ms % 1000)
        switch unit {
        case .seconds: return "\(s).\(frac)"
        case .milliseconds: return "\(ms)"
        case .microseconds: return "\(ms)000"
        case .nanoseconds: return "\(ms)000000"
        case .iso8601: return "\"\(iso(ms))\""
        }
    }

    @Test("epoch ms, us, ns and ISO-8601 times give exactly the features of the seconds run: every window, TTL and since_last; nothing refused",
          arguments: [FeatureSpec.TimestampUnit.milliseconds, .microseconds, .nanoseconds, .iso8601])
    func timestampUnits(_ unit: FeatureSpec.TimestampUnit) throws {
        var reference = PartitionFeatures(spec: Self.timeSpec(.seconds))
        var other = PartitionFeatures(spec: Self.timeSpec(unit))
        var compared = 0
        for (k, ms, x) in Self.stream {
            let a = try reference.feed(Array(#"{"user":"\#(k)","ts":\#(Self.timeText(ms, .seconds)),"x":\#(x)}"#.utf8))
            let b = try other.feed(Array(#"{"user":"\#(k)","ts":\#(Self.timeText(ms, unit)),"x":\#(x)}"#.utf8))
            #expect(a == b)
            if a == .features {
                #expect(reference.dense == other.dense, "\(unit) at \(ms)")
                compared += 1
            }
        }
        #expect(compared > 500)
        #expect(reference.counters.expiredKeys > 0 && reference.counters.expiredKeys == other.counters.expiredKeys)
        #expect(other.counters.badValues.isEmpty, "\(other.counters.badValues)")
    }

    @Test("epoch ms was refused as out of range before: now accepted; a time in the wrong unit or format is a bad value naming the field and the unit")
    func wrongUnit() throws {
        let ms = EventParser(keyPath: "user", timestampPath: "ts", labelPath: "", numericPaths: [], timestampUnit: .milliseconds)
        var e = ms.makeEvent()
        try ms.parse(Array(#"{"user":"a","ts":1764600000123}"#.utf8), into: &e)
        #expect(e.timestampStatus == .present && e.timestamp == 1764600000.123)
        let s = EventParser(keyPath: "user", timestampPath: "ts", labelPath: "", numericPaths: [])
        try s.parse(Array(#"{"user":"a","ts":1764600000123000}"#.utf8), into: &e)
        #expect(e.timestampStatus == .outOfRange)
        let iso = EventParser(keyPath: "user", timestampPath: "ts", labelPath: "", numericPaths: [], timestampUnit: .iso8601)
        for bad in [#""yesterday""#, #""2026-02-30T00:00:00Z""#, #""2026-12-01T25:00:00Z""#, "1764600000"] {
            try iso.parse(Array(#"{"user":"a","ts":\#(bad)}"#.utf8), into: &e)
            #expect(e.timestampStatus == .wrongType, "\(bad)")
        }
        let err = iso.error(.wrongType, "ts", expected: iso.timestampExpectation)
        #expect("\(err)" == "field 'ts' is not an ISO-8601 date-time string")
        // Through the pipeline: a dead-letter reason naming the field.
        var spec = Self.timeSpec(.iso8601)
        spec.onBadValue = .deadLetter
        var p = PartitionFeatures(spec: spec)
        #expect(throws: EventError.wrongType(field: "ts", expected: "an ISO-8601 date-time string")) {
            try p.feed(Array(#"{"user":"a","ts":"01/12/2026","x":1}"#.utf8))
        }
    }

    @Test("ISO-8601 forms: Z, offsets with and without colon, a space for T, no zone (UTC), a date alone, fractions to ns")
    func isoForms() {
        func t(_ s: String) -> Double? { Array(s.utf8).withUnsafeBytes { ISO8601Time.seconds($0) } }
        #expect(t("1970-01-01T00:00:00Z") == 0)
        #expect(t("2026-12-01T15:51:59Z") == 1_796_140_319)
        #expect(t("2026-12-01T16:51:59+01:00") == 1_796_140_319)
        #expect(t("2026-12-01T10:21:59-0530") == 1_796_140_319)
        #expect(t("2026-12-01 15:51:59") == 1_796_140_319)
        #expect(t("2026-12-01") == 1_796_083_200)
        #expect(t("2026-12-01T15:51:59.5Z") == 1_796_140_319.5)
        #expect(t("2026-12-01T15:51:59.123456789Z") == Double("1796140319.123456789"))
        #expect(t("1969-12-31T23:59:59.5Z") == -0.5)
        #expect(t("2024-02-29T00:00:00Z") != nil && t("2023-02-29T00:00:00Z") == nil)
        for bad in ["", "2026", "2026-12-01T", "2026-12-01T15:51:59Q", "2026-12-01T15:51:59+1", "2026-13-01"] {
            #expect(t(bad) == nil, "\(bad)")
        }
    }

    @Test("timestamp = \"@kafka\": the record's Kafka timestamp is the event time")
    func kafkaTime() throws {
        var spec = Self.timeSpec(.seconds)
        spec.timestamp = FeatureSpec.kafkaTimestamp
        var kafka = PartitionFeatures(spec: spec)
        var reference = PartitionFeatures(spec: Self.timeSpec(.seconds))
        for (k, ms, x) in Self.stream.prefix(200) {
            let a = try reference.feed(Array(#"{"user":"\#(k)","ts":\#(Self.timeText(ms, .seconds)),"x":\#(x)}"#.utf8))
            let b = try kafka.feed(Array(#"{"user":"\#(k)","x":\#(x)}"#.utf8), kafkaTimestampMs: ms)
            #expect(a == b)
            if a == .features { #expect(reference.dense == kafka.dense) }
        }
        // No Kafka timestamp: a missing event time, as a missing field would be.
        #expect(throws: EventError.missingField("@kafka")) { try kafka.feed(Array(#"{"user":"a","x":1}"#.utf8)) }
    }

    /// key = "user" and a feature on "user", against the same roles on two fields ("uid" the
    /// key, "user" the feature) of events that carry the value in both.
    static func bothRoles(_ configure: (inout FeatureSpec) -> Void) throws {
        var same = FeatureSpec()
        same.numeric = ["x"]
        same.aggregates = [.init(field: "x", stats: [.count, .mean])]
        same.label = "y"
        configure(&same)
        var split = same
        split.key = "uid"
        same.key = "user"
        var a = PartitionFeatures(spec: same)
        var b = PartitionFeatures(spec: split)
        for i in 0..<300 {
            let user = i % 3 == 0 ? "\(i % 11)" : "u\(i % 13)"  // numeric and string keys
            let value = i % 3 == 0 ? user : "\"\(user)\""
            let y = i % 2
            try a.feed(Array(#"{"user":\#(value),"x":\#(i % 17),"y":\#(y)}"#.utf8))
            try b.feed(Array(#"{"uid":\#(value),"user":\#(value),"x":\#(i % 17),"y":\#(y)}"#.utf8))
            #expect(a.dense == b.dense, "event \(i)")
            #expect(a.sparse == b.sparse, "event \(i)")
        }
        #expect(a.counters.badValues.isEmpty && a.state.keyCount == b.state.keyCount && a.state.keyCount == 24)
    }

    @Test("one field as the key and a text input: no dead letters, the features of two separate fields")
    func keyAndText() throws { try Self.bothRoles { $0.text = [.init(field: "user", ngrams: 1)] } }

    @Test("one field as the key and a categorical (one-hot and hashed)")
    func keyAndCategorical() throws {
        try Self.bothRoles { $0.categorical = [.init(field: "user", encoding: .onehot, values: ["u1", "u2", "3"])] }
        try Self.bothRoles { $0.categorical = [.init(field: "user", encoding: .hashed)] }
    }

    @Test("one field as the key and a numeric input, an aggregate's field, a target encoding, all at once")
    func keyAndEverything() throws {
        var s = FeatureSpec()
        s.key = "id"
        s.numeric = ["id"]
        s.aggregates = [.init(field: "id", stats: [.count, .distinct, .sum])]
        s.categorical = [.init(field: "id", encoding: .onehot, values: ["1", "2"])]
        s.text = [.init(field: "id", ngrams: 1)]
        s.targetEncoding = [.init(field: "id", smoothing: 1)]
        s.hashBits = 8
        var p = PartitionFeatures(spec: s)
        try p.feed(Array(#"{"id":2,"y":1}"#.utf8))
        try p.feed(Array(#"{"id":2,"y":0}"#.utf8))
        #expect(p.dense.prefix(7) == [2, 0, 1, 0, 2, 1, 4])
        #expect(p.sparse.count == 1)
        #expect(p.counters.badValues.isEmpty)
        // A string id is a key and text, but not a number: that role's bad value, named.
        #expect(throws: EventError.wrongType(field: "id", expected: "a number")) { try p.feed(Array(#"{"id":"abc","y":1}"#.utf8)) }
    }

    @Test("numbers of any length read exactly as a correctly rounding JSON parser reads them (strtod; Foundation's JSONSerialization to 1e-14)", arguments: [
        String(repeating: "9", count: 400),
        "1" + String(repeating: "0", count: 70),
        "1." + String(repeating: "0", count: 70) + "e5",
        "0." + String(repeating: "0", count: 80) + "1",
        "-" + String(repeating: "1", count: 100) + ".5",
        "123456789012345678901234567890123456789012345678901234567890123456789",
        "1" + String(repeating: "0", count: 300) + "e-300",
        "0.000000000000000000000000000000000000000000000000000000000000000000001e70",
        "17976931348623157" + String(repeating: "0", count: 292),
        "2.47032822920623272088e-324",
    ])
    func longNumbers(_ text: String) throws {
        let parser = EventParser(keyPath: "user", timestampPath: "", labelPath: "", numericPaths: ["x"])
        var e = parser.makeEvent()
        try parser.parse(Array(#"{"user":"a","x":\#(text)}"#.utf8), into: &e)
        // Swift's Double(String) rounds correctly (strtod); JSONSerialization, where it reads
        // the number at all, must agree.
        let expected = Double(text)!
        if let json = try? JSONSerialization.jsonObject(with: Data(#"{"x":\#(text)}"#.utf8)) as? [String: Any],
           let n = json["x"] as? NSNumber, n.doubleValue.isFinite {
            // Foundation (swift-corelibs) is off by a few ulps past 19 digits (1e-81 with 80
            // zeros reads as 1.0000000000000005e-81): the reference is strtod's correct rounding.
            #expect(abs(n.doubleValue - expected) <= 1e-14 * abs(expected), "JSONSerialization \(n.doubleValue) vs strtod \(expected)")
        }
        if expected.isFinite {
            #expect(e.status[0] == .present && e.values[0] == expected, "\(e.values[0]) vs \(expected)")
        } else {
            #expect(e.status[0] == .notFinite, "\(e.values[0])")
        }
    }

    @Test("aggregates over a string field: distinct merchants per card, count and since_last; numeric stats on strings stay a wrong type")
    func stringAggregates() throws {
        var s = FeatureSpec()
        s.key = "card"
        s.numeric = []
        s.label = ""
        s.aggregates = [.init(field: "merchant", stats: [.count, .distinct, .sinceLast])]
        var p = PartitionFeatures(spec: s)
        let events = [("c1", "m1", 1.0), ("c1", "m2", 2.0), ("c2", "m1", 2.5), ("c1", "m1", 4.0), ("c1", "m3", 4.5)]
        var last: [Double] = []
        for (card, merchant, t) in events {
            try p.feed(Array(#"{"card":"\#(card)","merchant":"\#(merchant)","ts":\#(t)}"#.utf8))
            last = p.dense
        }
        #expect(last == [4, 3, 0.5])
        // Numbers and strings mix: a number is its value, a string its hash.
        try p.feed(Array(#"{"card":"c2","merchant":7,"ts":5}"#.utf8))
        #expect(p.dense == [2, 2, 2.5])
        #expect(p.counters.badValues.isEmpty)
        var numericOnly = s
        numericOnly.aggregates = [.init(field: "merchant", stats: [.count, .mean])]
        var q = PartitionFeatures(spec: numericOnly)
        #expect(throws: EventError.wrongType(field: "merchant", expected: "a number")) {
            try q.feed(Array(#"{"card":"c1","merchant":"m1","ts":1}"#.utf8))
        }
    }

    @Test("last of a string field: a stable code per value in the dense column and a one-hot token in the hashed space; a missing value keeps the last one; a number replaces it; it survives a changelog restore")
    func stringLast() throws {
        var s = FeatureSpec()
        s.key = "card"
        s.numeric = []
        s.label = ""
        s.onBadValue = .skip
        s.text = [.init(field: "note", ngrams: 1)]
        s.hashBits = 12
        s.aggregates = [.init(field: "merchant", stats: [.count, .last, .distinct])]
        var p = PartitionFeatures(spec: s)
        func feed(_ card: String, _ merchant: String?, _ t: Double, _ p: inout PartitionFeatures) throws -> ([Double], [Int]) {
            let m = merchant.map { #","merchant":\#($0)"# } ?? ""
            try p.feed(Array(#"{"card":"\#(card)","note":"x","ts":\#(t)\#(m)}"#.utf8))
            return (p.dense, p.sparse.indices.filter { $0 != p.sparse.indices.last })
        }
        let (a1, t1) = try feed("c1", "\"m1\"", 1, &p)
        let (b1, u1) = try feed("c2", "\"m2\"", 2, &p)
        let (a2, t2) = try feed("c1", nil, 3, &p)
        let (a3, t3) = try feed("c1", "\"m1\"", 4, &p)
        #expect(a1[0] == 1 && a1[1] >= 0 && a1[1] < 1 && a1[2] == 1)
        #expect(b1[1] != a1[1], "another merchant, another code")
        #expect(t1.count == 1 && u1.count == 1 && t1 != u1, "one hashed token each, different for different values")
        #expect(a2[1] == a1[1] && t2 == t1, "no merchant in the event: the last one stays")
        // on_bad_value = "skip": the event without a merchant was counted as such, not added.
        #expect(a3[0] == 2 && a3[1] == a1[1] && a3[2] == 1 && t3 == t1)
        #expect(p.counters.badValues == ["missing_field:merchant": 1])

        // The state goes through the changelog and comes back the same.
        var r = ChangelogRestore(pipeline: p.pipeline)
        for rec in p.state.capture(p.pipeline, nextOffset: 4) { try r.apply(key: rec.key, value: rec.value) }
        var q = PartitionFeatures(spec: s)
        q.state = r.finish().0
        let (c1, v1) = try feed("c1", nil, 5, &q)
        let (d1, w1) = try feed("c1", nil, 5, &p)
        #expect(c1 == d1 && v1 == w1 && c1[1] == a1[1])

        // A number replaces the string: its value, and no token.
        let (a4, t4) = try feed("c1", "7.5", 6, &p)
        #expect(a4[1] == 7.5 && t4.isEmpty)
    }
}
