/// Reads a TOML table against a schema: every read marks the key as known, `finish()`
/// reports any key nobody asked for (a typo must never be ignored silently), and a
/// wrong type or out-of-range value names the key, its line and what is expected.
public struct TableReader {
    public let table: TOMLTable
    public let path: String
    private var known: [String] = []

    public init(_ table: TOMLTable, path: String) {
        self.table = table
        self.path = path
    }

    func full(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private mutating func node(_ key: String) -> TOMLNode? {
        known.append(key)
        return table[key]
    }

    func typeError(_ key: String, _ n: TOMLNode, _ expected: String) -> ConfigError {
        ConfigError(line: n.line, key: full(key), "expected \(expected), found \(n.value.typeName) \(render(n.value))")
    }

    public mutating func string(_ key: String, _ def: String, oneOf: [String]? = nil) throws(ConfigError) -> String {
        guard let n = node(key) else { return def }
        guard case .string(let s) = n.value else { throw typeError(key, n, "a string") }
        if let oneOf, !oneOf.contains(s) {
            throw ConfigError(line: n.line, key: full(key), "'\(s)' is not one of \(oneOf.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        return s
    }

    public mutating func int(_ key: String, _ def: Int, min: Int? = nil, max: Int? = nil) throws(ConfigError) -> Int {
        guard let n = node(key) else { return def }
        guard case .integer(let v) = n.value else { throw typeError(key, n, "an integer") }
        if let min, v < min { throw ConfigError(line: n.line, key: full(key), "\(v) is too small (at least \(min))") }
        if let max, v > max { throw ConfigError(line: n.line, key: full(key), "\(v) is too large (at most \(max))") }
        return Int(v)
    }

    public mutating func double(_ key: String, _ def: Double, min: Double? = nil, max: Double? = nil) throws(ConfigError) -> Double {
        guard let n = node(key) else { return def }
        let v: Double
        switch n.value {
        case .float(let d): v = d
        case .integer(let i): v = Double(i)
        default: throw typeError(key, n, "a number")
        }
        guard v.isFinite else { throw ConfigError(line: n.line, key: full(key), "must be a finite number") }
        if let min, v < min { throw ConfigError(line: n.line, key: full(key), "\(v) is too small (at least \(min))") }
        if let max, v > max { throw ConfigError(line: n.line, key: full(key), "\(v) is too large (at most \(max))") }
        return v
    }

    public mutating func bool(_ key: String, _ def: Bool) throws(ConfigError) -> Bool {
        guard let n = node(key) else { return def }
        guard case .bool(let b) = n.value else { throw typeError(key, n, "true or false") }
        return b
    }

    public mutating func strings(_ key: String, _ def: [String]) throws(ConfigError) -> [String] {
        guard let n = node(key) else { return def }
        guard case .array(let items) = n.value else { throw typeError(key, n, "an array of strings") }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item.value else {
                throw ConfigError(line: item.line, key: full(key), "expected an array of strings, found \(item.value.typeName) \(render(item.value))")
            }
            out.append(s)
        }
        return out
    }

    /// A sub-table (absent = empty table, so defaults apply).
    public mutating func table(_ key: String) throws(ConfigError) -> TableReader {
        guard let n = node(key) else { return TableReader(TOMLTable(), path: full(key)) }
        guard case .table(let t) = n.value else { throw typeError(key, n, "a table") }
        return TableReader(t, path: full(key))
    }

    /// An array of tables (inline `[{...}]` or `[[...]]`).
    public mutating func tables(_ key: String) throws(ConfigError) -> [TableReader] {
        guard let n = node(key) else { return [] }
        guard case .array(let items) = n.value else { throw typeError(key, n, "an array of tables") }
        var out: [TableReader] = []
        for (idx, item) in items.enumerated() {
            guard case .table(let t) = item.value else {
                throw ConfigError(line: item.line, key: "\(full(key))[\(idx)]", "expected a table, found \(item.value.typeName)")
            }
            out.append(TableReader(t, path: "\(full(key))[\(idx)]"))
        }
        return out
    }

    /// Free-form string map (e.g. librdkafka passthrough settings). Numbers and booleans are
    /// accepted and turned into their text, as librdkafka takes every value as a string.
    public mutating func stringMap(_ key: String) throws(ConfigError) -> [String: String] {
        guard let n = node(key) else { return [:] }
        guard case .table(let t) = n.value else { throw typeError(key, n, "a table of settings") }
        var out: [String: String] = [:]
        func flatten(_ t: TOMLTable, _ prefix: String) throws(ConfigError) {
            for (k, v) in t.entries {
                let name = prefix.isEmpty ? k : "\(prefix).\(k)"
                switch v.value {
                case .string(let s): out[name] = s
                case .integer(let i): out[name] = String(i)
                case .float(let d): out[name] = String(d)
                case .bool(let b): out[name] = b ? "true" : "false"
                case .table(let sub): try flatten(sub, name)
                case .array: throw ConfigError(line: v.line, key: "\(full(key)).\(name)", "expected a string, number or boolean")
                }
            }
        }
        try flatten(t, "")
        return out
    }

    /// Every key in the table must have been read.
    public func finish() throws(ConfigError) {
        for (k, n) in table.entries where !known.contains(k) {
            let choices = known.sorted().joined(separator: ", ")
            let hint = closest(k, in: known).map { " (did you mean '\($0)'?)" } ?? ""
            throw ConfigError(line: n.line, key: full(k),
                              "unknown key\(hint); known keys here: \(choices.isEmpty ? "none" : choices)")
        }
    }
}

func render(_ v: TOMLValue) -> String {
    switch v {
    case .string(let s): "\"\(s)\""
    case .integer(let i): String(i)
    case .float(let d): String(d)
    case .bool(let b): b ? "true" : "false"
    case .array: "[...]"
    case .table: "{...}"
    }
}

/// The known key within edit distance 2, if any: "partitons" -> "partitions".
func closest(_ key: String, in known: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        var prev = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var cur = [i + 1]
            for (j, cb) in b.enumerated() {
                cur.append(Swift.min(prev[j + 1] + 1, cur[j] + 1, prev[j] + (ca == cb ? 0 : 1)))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let k = Array(key)
    return known.map { ($0, distance(k, Array($0))) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
}
