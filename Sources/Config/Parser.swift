struct Parser {
    let bytes: [UInt8]
    var i = 0
    var line = 1

    init(bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { i >= bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    func err(_ msg: String, key: String? = nil) -> ConfigError { ConfigError(line: line, key: key, msg) }

    mutating func skipSpaces() {
        while let c = peek, c == 0x20 || c == 0x09 { i += 1 }
    }
    mutating func skipComment() {
        if peek == UInt8(ascii: "#") { while let c = peek, c != 0x0A { i += 1 } }
    }
    /// Spaces, comments and newlines (inside arrays).
    mutating func skipAll() {
        while let c = peek {
            if c == 0x20 || c == 0x09 || c == 0x0D { i += 1 }
            else if c == 0x0A { i += 1; line += 1 }
            else if c == UInt8(ascii: "#") { skipComment() }
            else { break }
        }
    }
    mutating func endOfLine() throws(ConfigError) {
        skipSpaces(); skipComment()
        if peek == 0x0D { i += 1 }
        if let c = peek {
            guard c == 0x0A else { throw err("unexpected '\(Character(UnicodeScalar(c)))' after value; expected end of line") }
            i += 1; line += 1
        }
    }

    mutating func document() throws(ConfigError) -> TOMLTable {
        var root = TOMLTable(line: 1)
        var current: [String] = []
        var definedTables = Set<String>()
        while true {
            skipAll()
            guard let c = peek else { break }
            if c == UInt8(ascii: "[") {
                i += 1
                let isArray = peek == UInt8(ascii: "[")
                if isArray { i += 1 }
                skipSpaces()
                let path = try keyPath()
                skipSpaces()
                guard peek == UInt8(ascii: "]") else { throw err("expected ']' to close table header") }
                i += 1
                if isArray {
                    guard peek == UInt8(ascii: "]") else { throw err("expected ']]' to close array-of-tables header") }
                    i += 1
                }
                let name = path.joined(separator: ".")
                if isArray {
                    try appendArrayTable(&root, path, line: line)
                } else {
                    if definedTables.contains(name) { throw err("table [\(name)] defined twice") }
                    definedTables.insert(name)
                    try ensureTable(&root, path, line: line)
                }
                current = path
                try endOfLine()
            } else {
                let keyLine = line
                let path = try keyPath()
                skipSpaces()
                guard peek == UInt8(ascii: "=") else {
                    throw err("expected '=' after key '\(path.joined(separator: "."))'")
                }
                i += 1
                skipSpaces()
                let v = try value()
                try insert(&root, current, path, TOMLNode(value: v, line: keyLine))
                try endOfLine()
            }
        }
        return root
    }

    mutating func keyPath() throws(ConfigError) -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard let c = peek else { throw err("expected a key") }
            if c == UInt8(ascii: "\"") { parts.append(try basicString()) }
            else if c == UInt8(ascii: "'") { parts.append(try literalString()) }
            else {
                let start = i
                while let d = peek, isBareKey(d) { i += 1 }
                guard i > start else { throw err("expected a key, found '\(Character(UnicodeScalar(c)))'") }
                parts.append(String(decoding: bytes[start..<i], as: UTF8.self))
            }
            skipSpaces()
            if peek == UInt8(ascii: ".") { i += 1 } else { break }
        }
        return parts
    }

    func isBareKey(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }

    mutating func value() throws(ConfigError) -> TOMLValue {
        guard let c = peek else { throw err("expected a value") }
        switch c {
        case UInt8(ascii: "\""):
            if bytes.count > i + 2 && bytes[i + 1] == c && bytes[i + 2] == c {
                throw err("multi-line strings are not supported")
            }
            return .string(try basicString())
        case UInt8(ascii: "'"):
            return .string(try literalString())
        case UInt8(ascii: "["):
            i += 1
            var items: [TOMLNode] = []
            while true {
                skipAll()
                if peek == UInt8(ascii: "]") { i += 1; break }
                let l = line
                items.append(TOMLNode(value: try value(), line: l))
                skipAll()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                if peek == UInt8(ascii: "]") { i += 1; break }
                throw err("expected ',' or ']' in array")
            }
            return .array(items)
        case UInt8(ascii: "{"):
            i += 1
            var t = TOMLTable(line: line)
            skipSpaces()
            if peek == UInt8(ascii: "}") { i += 1; return .table(t) }
            while true {
                skipSpaces()
                let l = line
                let path = try keyPath()
                skipSpaces()
                guard peek == UInt8(ascii: "=") else { throw err("expected '=' in inline table") }
                i += 1
                skipSpaces()
                let v = try value()
                try insert(&t, [], path, TOMLNode(value: v, line: l))
                skipSpaces()
                if peek == UInt8(ascii: ",") { i += 1; continue }
                if peek == UInt8(ascii: "}") { i += 1; break }
                throw err("expected ',' or '}' in inline table")
            }
            return .table(t)
        default:
            let start = i
            while let d = peek, !(d == 0x20 || d == 0x09 || d == 0x0A || d == 0x0D || d == UInt8(ascii: ",")
                                  || d == UInt8(ascii: "]") || d == UInt8(ascii: "}") || d == UInt8(ascii: "#")) { i += 1 }
            let word = String(decoding: bytes[start..<i], as: UTF8.self)
            return try scalar(word)
        }
    }

    func scalar(_ word: String) throws(ConfigError) -> TOMLValue {
        switch word {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        case "": throw err("expected a value")
        default: break
        }
        let clean = word.replacingUnderscores()
        if let n = Int64(clean) { return .integer(n) }
        if clean.hasPrefix("0x"), let n = Int64(clean.dropFirst(2), radix: 16) { return .integer(n) }
        if clean.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let d = Double(clean) {
            return .float(d)
        }
        if word.count >= 10 && word.contains("-") && word.first?.isNumber == true {
            throw err("dates and times are not supported: \(word)")
        }
        throw err("'\(word)' is not a valid value (strings need quotes)")
    }

    mutating func basicString() throws(ConfigError) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = peek else { throw err("unterminated string") }
            i += 1
            if c == UInt8(ascii: "\"") { break }
            if c == 0x0A { throw err("unterminated string (newline inside)") }
            if c == UInt8(ascii: "\\") {
                guard let e = peek else { throw err("unterminated string") }
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "u"), UInt8(ascii: "U"):
                    let n = e == UInt8(ascii: "u") ? 4 : 8
                    guard i + n <= bytes.count,
                          let v = UInt32(String(decoding: bytes[i..<i + n], as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(v) else { throw err("bad unicode escape") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    i += n
                default: throw err("unknown escape '\\\(Character(UnicodeScalar(e)))'")
                }
            } else {
                out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func literalString() throws(ConfigError) -> String {
        i += 1
        let start = i
        while let c = peek, c != UInt8(ascii: "'") {
            if c == 0x0A { throw err("unterminated string (newline inside)") }
            i += 1
        }
        guard peek != nil else { throw err("unterminated string") }
        let s = String(decoding: bytes[start..<i], as: UTF8.self)
        i += 1
        return s
    }

    // MARK: tree building

    func ensureTable(_ root: inout TOMLTable, _ path: [String], line: Int) throws(ConfigError) {
        try walk(&root, path[...], line: line, createLast: true) { _ in }
    }

    func appendArrayTable(_ root: inout TOMLTable, _ path: [String], line: Int) throws(ConfigError) {
        try walk(&root, path.dropLast(), line: line, createLast: true) { (t) throws(ConfigError) in
            let k = path.last!
            if let existing = t[k] {
                guard case .array(var items) = existing.value else { throw err("'\(k)' is not an array of tables", key: k) }
                items.append(TOMLNode(value: .table(TOMLTable(line: line)), line: line))
                try t.update(k) { $0.value = .array(items) }
            } else {
                t.set(k, TOMLNode(value: .array([TOMLNode(value: .table(TOMLTable(line: line)), line: line)]), line: line))
            }
        }
    }

    func insert(_ root: inout TOMLTable, _ current: [String], _ path: [String], _ node: TOMLNode) throws(ConfigError) {
        let full = current + path
        try walk(&root, full.dropLast()[...], line: node.line, createLast: true) { (t) throws(ConfigError) in
            let k = full.last!
            if t[k] != nil { throw ConfigError(line: node.line, key: full.joined(separator: "."), "set twice") }
            t.set(k, node)
        }
    }

    /// Walks to the table at `path` (descending into the last element of arrays of tables).
    func walk(_ t: inout TOMLTable, _ path: ArraySlice<String>, line: Int, createLast: Bool,
              _ body: (inout TOMLTable) throws(ConfigError) -> Void) throws(ConfigError) {
        guard let first = path.first else { try body(&t); return }
        if t[first] == nil { t.set(first, TOMLNode(value: .table(TOMLTable(line: line)), line: line)) }
        let rest = path.dropFirst()
        try t.update(first) { (node) throws(ConfigError) in
            switch node.value {
            case .table(var sub):
                try walk(&sub, rest, line: line, createLast: createLast, body)
                node.value = .table(sub)
            case .array(var items):
                guard let last = items.last, case .table(var sub) = last.value else {
                    throw ConfigError(line: line, key: first, "is not a table")
                }
                try walk(&sub, rest, line: line, createLast: createLast, body)
                items[items.count - 1].value = .table(sub)
                node.value = .array(items)
            default:
                throw ConfigError(line: line, key: first, "is a \(node.value.typeName), not a table")
            }
        }
    }
}
