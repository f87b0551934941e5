import Foundation
import Testing
@testable import Features

@Suite("Event parsing and features")
struct FeatureTests {
    let parser = EventParser(keyPath: "user", timestampPath: "ts", labelPath: "y",
                             numericPaths: ["x.f0", "x.f1", "amount"])

    /// The strict reading: every named number present and valid.
    func parse(_ s: String) throws(EventError) -> ParsedEvent {
        var e = parser.makeEvent()
        try parser.parse(Array(s.utf8), into: &e)
        if let problem = parser.firstProblem(e) { throw problem }
        return e
    }

    @Test("a timestamp beyond ±1e12 s is a bad value with a reason, not a trap (found by the fuzzer)")
    func hugeTimestamp() throws {
        var e = parser.makeEvent()
        try parser.parse(Array(#"{"user": "u1", "ts": 1700003333333333333333333333330000.5, "x": {"f0": 1}}"#.utf8), into: &e)
        #expect(e.timestampStatus == .outOfRange && e.timestamp == nil)
        let err = parser.error(e.timestampStatus, "ts", expected: "a number")
        #expect(err.reason == "wrong_type")
        #expect("\(err)".contains("within ±1e12"))
        #expect(bucketNumber(1e300) == Int64(1) << 61 && bucketNumber(-.infinity) == -(Int64(1) << 61) && bucketNumber(-0.5) == -1)
    }

    @Test("extracts only the named fields, skipping everything else")
    func extracts() throws {
        let e = try parse(#"{"skip": {"deep": [1, {"x": "]}"}]}, "user": "u\"1", "ts": 1700000000.5, "x": {"f1": -2.5e-3, "f0": 3, "other": null}, "amount": 12.25, "y": true}"#)
        #expect(e.key == "u\"1")
        #expect(e.timestamp == 1700000000.5)
        #expect(e.values == [3, -0.0025, 12.25])
        #expect(e.label == 1)
    }

    @Test("numbers parse exactly like a correct parser", arguments: [
        "0.6394267984578837", "0.1", "1e-300", "123456789012345678901234", "-0.0", "2.2250738585072014e-308",
        "0.30000000000000004", "1.7976931348623157e308", "5e-324", "9007199254740993", "3.14159265358979323846",
    ])
    func numbers(_ text: String) throws {
        let e = try parse(#"{"user": 1, "x": {"f0": \#(text), "f1": 0}, "amount": 0}"#)
        #expect(e.values[0] == Double(text)!)
        #expect(e.key == "1")
    }

    @Test("labels: absent or null = unlabelled")
    func labels() throws {
        #expect(try parse(#"{"user":"a","x":{"f0":1,"f1":2},"amount":3}"#).label == nil)
        #expect(try parse(#"{"user":"a","x":{"f0":1,"f1":2},"amount":3,"y":null}"#).label == nil)
        #expect(try parse(#"{"user":"a","x":{"f0":1,"f1":2},"amount":3,"y":0}"#).label == 0)
    }

    @Test("multiclass labels: a class name or index; anything else is a bad_label naming the value")
    func classLabels() throws {
        let p = EventParser(keyPath: "user", timestampPath: "", labelPath: "y", numericPaths: [], labelClasses: ["high", "low", "mid"])
        func label(_ y: String) throws(EventError) -> Double? {
            var e = p.makeEvent()
            try p.parse(Array(#"{"user":"a","y":\#(y)}"#.utf8), into: &e)
            return e.label
        }
        #expect(try label(#""mid""#) == 2)
        #expect(try label("1") == 1)
        #expect(try label("null") == nil)
        for bad in [#""medium""#, "3", "1.5", "-1"] {
            do {
                _ = try label(bad)
                Issue.record("accepted label \(bad)")
            } catch {
                #expect(error.reason == "bad_label" && error.description.hasPrefix("label 'y' "), "\(error)")
            }
        }
        #expect(throws: EventError.wrongType(field: "y", expected: "a class name, class index or null")) { try label("[1]") }
    }

    @Test("malformed events give a reason naming the field", arguments: [
        ("not json", "not_json"),
        ("", "not_json"),
        ("[1,2]", "not_object"),
        (#"{"user": "a", "x": {"f0": 1, "f1": 2}, "amount": 3"#, "not_json"),
        (#"{"x": {"f0": 1, "f1": 2}, "amount": 3}"#, "missing_field"),
        (#"{"user": "a", "x": {"f0": 1}, "amount": 3}"#, "missing_field"),
        (#"{"user": "a", "x": {"f0": "high", "f1": 2}, "amount": 3}"#, "wrong_type"),
        (#"{"user": {"id": 1}, "x": {"f0": 1, "f1": 2}, "amount": 3}"#, "wrong_type"),
        (#"{"user": "a", "x": {"f0": 1e999, "f1": 2}, "amount": 3}"#, "not_finite"),
        (#"{"user": "a", "x": {"f0": 1, "f1": 2}, "amount": 3} trailing"#, "not_json"),
        (#"{"user": "a", "x": {"f0": 1, "f1": 2}, "amount": 3, "deep": [[[[["#, "not_json"),
    ])
    func malformed(text: String, reason: String) {
        do {
            _ = try parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.reason == reason, "\(text): \(error)")
        }
    }

    @Test("long and prefix-sharing field names are told apart")
    func longNames() throws {
        let p = EventParser(keyPath: "customer_identifier", timestampPath: "", labelPath: "",
                            numericPaths: ["transaction.amount_in_cents", "transaction.amount", "transaction.amount_in_centz"])
        var e = p.makeEvent()
        try p.parser(#"{"customer_identifier_x": "no", "customer_identifier": "c1", "transaction": {"amount_in_centz": 3, "amount": 1, "amount_in_cents": 2, "amount_in": 9}}"#, &e)
        #expect(e.key == "c1")
        #expect(e.values == [2, 1, 3])
    }

    @Test("missing field error names the path")
    func missingName() {
        #expect(throws: EventError.missingField("x.f1")) { try parse(#"{"user": "a", "x": {"f0": 1}, "amount": 3}"#) }
    }

    @Test("text slots: strings as they are, numbers as written, objects are the wrong type")
    func textSlots() throws {
        let p = EventParser(keyPath: "user", timestampPath: "", labelPath: "", numericPaths: ["id"], textPaths: ["id", "city", "tags"])
        var e = p.makeEvent()
        try p.parser(#"{"user":"u","id":75001,"city":"Paris \u00e9","tags":{"a":1}}"#, &e)
        #expect(e.values == [75001])
        #expect(e.texts[0] == "75001")
        #expect(e.texts[1] == "Paris é")
        #expect(e.textStatus == [.present, .present, .wrongType])
    }
}

extension EventParser {
    func parser(_ s: String, _ e: inout ParsedEvent) throws(EventError) { try parse(Array(s.utf8), into: &e) }
}
