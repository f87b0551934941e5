#if canImport(Glibc)
import Glibc
#endif

/// Why an event could not be turned into features. The text goes into dead-letter headers
/// and status counters, so it names the field.
public enum EventError: Error, Sendable, Equatable, CustomStringConvertible {
    case notJSON(String)
    case notAnObject
    case missingField(String)
    case wrongType(field: String, expected: String)
    case notFinite(String)
    case oversized(field: String, limit: Int)
    case badLabel(field: String, why: String)

    public var description: String {
        switch self {
        case .notJSON(let why): "not JSON: \(why)"
        case .notAnObject: "not a JSON object"
        case .missingField(let f): "missing field '\(f)'"
        case .wrongType(let f, let e): "field '\(f)' is not \(e)"
        case .notFinite(let f): "field '\(f)' is NaN or infinite"
        case .oversized(let f, let limit): "field '\(f)' is longer than \(limit) bytes"
        case .badLabel(let f, let why): "label '\(f)' \(why)"
        }
    }

    /// Short, stable reason code (for counters and dead-letter headers).
    public var reason: String {
        switch self {
        case .notJSON: "not_json"
        case .notAnObject: "not_object"
        case .missingField: "missing_field"
        case .wrongType: "wrong_type"
        case .notFinite: "not_finite"
        case .oversized: "oversized"
        case .badLabel: "bad_label"
        }
    }
}
