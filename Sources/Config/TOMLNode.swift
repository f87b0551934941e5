/// A TOML subset parser that keeps the line of every key, so configuration errors can say
/// "line 12: key 'kafka.partitions' ...". Supported: comments, [tables], [[arrays of
/// tables]], dotted and quoted keys, basic and literal strings, integers, floats (inf/nan),
/// booleans, arrays (multi-line) and inline tables. Not supported (a clear error, never a
/// silent misread): dates/times and multi-line strings.
public indirect enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case bool(Bool)
    case array([TOMLNode])
    case table(TOMLTable)

    public var typeName: String {
        switch self {
        case .string: "string"
        case .integer: "integer"
        case .float: "float"
        case .bool: "boolean"
        case .array: "array"
        case .table: "table"
        }
    }
}

/// A value with the line it was written on.
public struct TOMLNode: Sendable, Equatable {
    public var value: TOMLValue
    public var line: Int
}
