#if canImport(Glibc)
import Glibc
#endif

/// Scans JSON bytes once and extracts only the fields the spec names, in the manner of
/// simdjson's On-Demand API: no `Any`, no dictionaries, unknown fields are skipped without
/// being decoded. Foundation's JSONSerialization on our ~170-byte events manages ~110k/s on
/// this machine; this is the first wall on the hot path, hence a dedicated scanner.
public struct EventParser: Sendable {
    /// Dotted paths of the numeric values, in `ParsedEvent.values` order.
    public let numericPaths: [String]
    /// Dotted paths of the text/categorical values, in `ParsedEvent.texts` order.
    public let textPaths: [String]
    let keyPath: String
    let timestampPath: String
    let labelPath: String
    /// Multiclass: labels are these names or their index (0-based); empty = any number.
    let labelClasses: [String]
    let timestampUnit: FeatureSpec.TimestampUnit

    // Path trie, flattened into plain-data arrays (no per-lookup retain/release on the hot
    // path). Node 0 is the root object; a node's children are children[start..<start+count].
    struct Node: Sendable {
        var childStart = 0
        var childCount = 0
        var slot: Slot? = nil
    }
    /// A field name to match: its first <= 8 bytes packed into `prefix` (one compare decides
    /// for short names such as "user", "ts", "f0"), the rest checked in `names`.
    struct Child: Sendable {
        var prefix: UInt64
        var length: Int
        var nameOffset: Int
        var node: Int
    }
    enum Slot: Sendable, Equatable {
        case key, timestamp, label
        /// A feature value wanted as a number, as text, or both (e.g. `distinct` over ids
        /// that are also one-hot encoded); `key`: the same field is also the grouping key.
        case value(numeric: Int?, text: Int?, key: Bool)
    }
    var nodes: [Node] = [Node()]
    var children: [Child] = []
    var names: [UInt8] = []

    public init(keyPath: String, timestampPath: String, labelPath: String, numericPaths: [String],
                textPaths: [String] = [], labelClasses: [String] = [], timestampUnit: FeatureSpec.TimestampUnit = .seconds) {
        self.labelClasses = labelClasses
        self.timestampUnit = timestampUnit
        self.keyPath = keyPath
        self.timestampPath = timestampPath
        self.labelPath = labelPath
        var unique: [String] = []
        for p in numericPaths where !unique.contains(p) { unique.append(p) }
        self.numericPaths = unique
        var uniqueText: [String] = []
        for p in textPaths where !uniqueText.contains(p) { uniqueText.append(p) }
        self.textPaths = uniqueText
        // Build a nested tree first, then flatten it breadth-first.
        final class Tree {
            var kids: [(String, Tree)] = []
            var slot: Slot?
        }
        let root = Tree()
        func node(_ path: String) -> Tree {
            var cur = root
            for part in path.split(separator: ".", omittingEmptySubsequences: false).map(String.init) {
                if let c = cur.kids.first(where: { $0.0 == part }) { cur = c.1 } else {
                    let t = Tree()
                    cur.kids.append((part, t))
                    cur = t
                }
            }
            return cur
        }
        node(keyPath).slot = .key
        if !timestampPath.isEmpty { node(timestampPath).slot = .timestamp }
        if !labelPath.isEmpty { node(labelPath).slot = .label }
        // A field may be the key and a feature input at once (a categorical or text over the
        // user id, a count of distinct users per merchant keyed by user, ...).
        for (i, p) in unique.enumerated() {
            let t = node(p)
            switch t.slot {
            case .value(_, let text, let key)?: t.slot = .value(numeric: i, text: text, key: key)
            case .key?: t.slot = .value(numeric: i, text: nil, key: true)
            default: t.slot = .value(numeric: i, text: nil, key: false)
            }
        }
        for (i, p) in uniqueText.enumerated() {
            let t = node(p)
            switch t.slot {
            case .value(let n, _, let key)?: t.slot = .value(numeric: n, text: i, key: key)
            case .key?: t.slot = .value(numeric: nil, text: i, key: true)
            default: t.slot = .value(numeric: nil, text: i, key: false)
            }
        }
        var queue: [(Tree, Int)] = [(root, 0)]
        nodes = [Node(slot: root.slot)]
        while !queue.isEmpty {
            let (t, idx) = queue.removeFirst()
            nodes[idx].childStart = children.count
            nodes[idx].childCount = t.kids.count
            for (name, kid) in t.kids {
                nodes.append(Node(slot: kid.slot))
                let bytes = Array(name.utf8)
                children.append(Child(prefix: Self.pack(bytes[...]), length: bytes.count,
                                      nameOffset: names.count, node: nodes.count - 1))
                names.append(contentsOf: bytes)
                queue.append((kid, nodes.count - 1))
            }
        }
    }

    static func pack(_ b: ArraySlice<UInt8>) -> UInt64 {
        var v: UInt64 = 0
        for (i, c) in b.prefix(8).enumerated() { v |= UInt64(c) << (8 * UInt64(i)) }
        return v
    }

    /// The child of `node` named by bytes [start, end) of the scanner's input, if any.
    @inline(__always)
    func child(of node: Int, _ s: Scanner, _ start: Int, _ end: Int) -> Int? {
        let len = end - start
        var prefix: UInt64 = 0
        for i in 0..<min(len, 8) { prefix |= UInt64(s.at(start + i)) << (8 * UInt64(i)) }
        let n = nodes[node]
        for i in n.childStart..<(n.childStart + n.childCount) {
            let c = children[i]
            guard c.length == len, c.prefix == prefix else { continue }
            if len <= 8 { return c.node }
            let same = names.withUnsafeBytes { memcmp($0.baseAddress! + c.nameOffset + 8, s.base + start + 8, len - 8) == 0 }
            if same { return c.node }
        }
        return nil
    }

    public func makeEvent() -> ParsedEvent { ParsedEvent(slots: numericPaths.count, textSlots: textPaths.count) }

    /// Parses `bytes` into `event` (reused). Throws for what makes the record unusable (not
    /// a JSON object, no key, a bad label); feature values that are missing or invalid are
    /// recorded in `event.status` / `textStatus` / `timestampStatus` for the policy to decide.
    public func parse(_ bytes: UnsafeRawBufferPointer, into event: inout ParsedEvent) throws(EventError) {
        for i in event.status.indices { event.status[i] = .missing }
        for i in event.textStatus.indices { event.textStatus[i] = .missing }
        event.key = ""
        event.timestamp = nil
        event.timestampStatus = .missing
        event.label = nil
        var keyFound = false
        var s = Scanner(bytes)
        s.skipWS()
        guard let c = s.peek else { throw .notJSON("empty") }
        guard c == UInt8(ascii: "{") else {
            if c == UInt8(ascii: "[") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) {
                throw .notAnObject
            }
            throw .notJSON("unexpected byte at 0")
        }
        try object(&s, node: 0, event: &event, keyFound: &keyFound)
        s.skipWS()
        if s.i != s.n { throw .notJSON("trailing data at \(s.i)") }
        guard keyFound else { throw .missingField(keyPath) }
    }

    /// The first bad numeric value as an error (the strict reading: every named number must
    /// be present and valid).
    public func firstProblem(_ event: ParsedEvent) -> EventError? {
        for i in event.status.indices where event.status[i] != .present {
            return error(event.status[i], numericPaths[i], expected: "a number")
        }
        return nil
    }

    public func error(_ s: ValueStatus, _ field: String, expected: String) -> EventError {
        switch s {
        case .missing: .missingField(field)
        case .wrongType: .wrongType(field: field, expected: expected)
        case .notFinite: .notFinite(field)
        case .outOfRange: .wrongType(field: field, expected: "\(expected) within ±1e12 s of the epoch")
        case .present: .notJSON("no error")
        }
    }

    /// What a timestamp field must hold, for error messages.
    public var timestampExpectation: String {
        switch timestampUnit {
        case .seconds: "a number of seconds since the epoch"
        case .milliseconds: "a number of milliseconds since the epoch"
        case .microseconds: "a number of microseconds since the epoch"
        case .nanoseconds: "a number of nanoseconds since the epoch"
        case .iso8601: "an ISO-8601 date-time string"
        }
    }

    public func parse(_ bytes: [UInt8], into event: inout ParsedEvent) throws(EventError) {
        let r: Result<Void, EventError> = bytes.withUnsafeBytes { b in
            Result { () throws(EventError) in try parse(b, into: &event) }
        }
        try r.get()
    }

    private func object(_ s: inout Scanner, node: Int, event: inout ParsedEvent, keyFound: inout Bool) throws(EventError) {
        s.i += 1  // '{'
        s.skipWS()
        if s.peek == UInt8(ascii: "}") { s.i += 1; return }
        while true {
            s.skipWS()
            guard s.peek == UInt8(ascii: "\"") else { throw .notJSON("expected a field name at \(s.i)") }
            let (start, end, escaped) = try s.stringBounds()
            s.skipWS()
            guard s.peek == UInt8(ascii: ":") else { throw .notJSON("expected ':' at \(s.i)") }
            s.i += 1
            s.skipWS()
            let child: Int? = escaped ? nil : self.child(of: node, s, start, end)
            if let child {
                if let slot = nodes[child].slot {
                    try value(&s, slot: slot, event: &event, keyFound: &keyFound)
                } else if s.peek == UInt8(ascii: "{") {
                    try object(&s, node: child, event: &event, keyFound: &keyFound)
                } else {
                    try s.skipValue()
                }
            } else {
                try s.skipValue()
            }
            s.skipWS()
            guard let c = s.peek else { throw .notJSON("unterminated object") }
            s.i += 1
            if c == UInt8(ascii: "}") { return }
            guard c == UInt8(ascii: ",") else { throw .notJSON("expected ',' or '}' at \(s.i - 1)") }
        }
    }

    private func value(_ s: inout Scanner, slot: Slot, event: inout ParsedEvent, keyFound: inout Bool) throws(EventError) {
        guard let c = s.peek else { throw .notJSON("truncated") }
        switch slot {
        case .key:
            if c == UInt8(ascii: "\"") {
                let (start, end, escaped) = try s.stringBounds()
                event.key = escaped ? Scanner.unescape(s.base, start, end)
                    : String(decoding: UnsafeRawBufferPointer(start: s.base + start, count: end - start), as: UTF8.self)
                keyFound = true
            } else if c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) {
                // Numeric keys (user ids) are common: use their text as written.
                let start = s.i
                _ = try s.number()
                event.key = String(decoding: UnsafeRawBufferPointer(start: s.base + start, count: s.i - start), as: UTF8.self)
                keyFound = true
            } else if c == UInt8(ascii: "n") {
                try s.literal("null")
                throw .missingField(keyPath)
            } else {
                throw .wrongType(field: keyPath, expected: "a string")
            }
        case .timestamp:
            if timestampUnit == .iso8601 && c == UInt8(ascii: "\"") {
                let (start, end, escaped) = try s.stringBounds()
                let t = escaped ? nil : ISO8601Time.seconds(UnsafeRawBufferPointer(start: s.base + start, count: end - start))
                guard let t else { event.timestampStatus = .wrongType; return }
                guard abs(t) <= 1e12 else { event.timestampStatus = .outOfRange; return }
                event.timestamp = t
                event.timestampStatus = .present
                return
            }
            guard timestampUnit != .iso8601, c == UInt8(ascii: "-") || (c >= 0x30 && c <= 0x39) else {
                if c == UInt8(ascii: "n") { try s.literal("null"); return }
                try s.skipValue()
                event.timestampStatus = .wrongType
                return
            }
            // Converted to seconds on the decimal text (its exponent moved), so 1764600000123 ms
            // is exactly the Double that 1764600000.123 s is: windows and TTLs cut the same.
            let v = try s.number(shift: timestampUnit.decimalShift)
            guard v.isFinite else { event.timestampStatus = .notFinite; return }
            // The range check is on seconds, whatever the unit (window bucket numbers are Int64).
            guard abs(v) <= 1e12 else { event.timestampStatus = .outOfRange; return }
            event.timestamp = v
            event.timestampStatus = .present
        case .label:
            switch c {
            case UInt8(ascii: "t"): try s.literal("true"); event.label = 1
            case UInt8(ascii: "f"): try s.literal("false"); event.label = 0
            case UInt8(ascii: "n"): try s.literal("null"); event.label = nil
            case UInt8(ascii: "-"), 0x30...0x39:
                let v = try s.number()
                guard v.isFinite else { throw .notFinite(labelPath) }
                if !labelClasses.isEmpty && (v != v.rounded() || v < 0 || v >= Double(labelClasses.count)) {
                    throw .badLabel(field: labelPath, why: "\(v) is not a class index (0..<\(labelClasses.count))")
                }
                event.label = v
            case UInt8(ascii: "\""):
                guard !labelClasses.isEmpty else { throw .wrongType(field: labelPath, expected: "a number, boolean or null") }
                let (start, end, escaped) = try s.stringBounds()
                let name = escaped ? Scanner.unescape(s.base, start, end)
                    : String(decoding: UnsafeRawBufferPointer(start: s.base + start, count: end - start), as: UTF8.self)
                guard let i = labelClasses.firstIndex(of: name) else {
                    throw .badLabel(field: labelPath, why: "\"\(name.prefix(64))\" is not one of the classes \(labelClasses)")
                }
                event.label = Double(i)
            default: throw .wrongType(field: labelPath, expected: labelClasses.isEmpty ? "a number, boolean or null" : "a class name, class index or null")
            }
        case .value(let n, let t, let isKey):
            if isKey {
                // Read once as the key, then again as the feature value(s).
                let start = s.i
                try value(&s, slot: .key, event: &event, keyFound: &keyFound)
                s.i = start
            }
            switch c {
            case UInt8(ascii: "-"), 0x30...0x39:
                let start = s.i
                let v = try s.number()
                if let n {
                    if v.isFinite { event.values[n] = v; event.status[n] = .present } else { event.status[n] = .notFinite }
                }
                if let t {
                    event.texts[t] = String(decoding: UnsafeRawBufferPointer(start: s.base + start, count: s.i - start), as: UTF8.self)
                    event.textStatus[t] = .present
                }
            case UInt8(ascii: "\""):
                let (start, end, escaped) = try s.stringBounds()
                if let n { event.status[n] = .wrongType }
                if let t {
                    event.texts[t] = escaped ? Scanner.unescape(s.base, start, end)
                        : String(decoding: UnsafeRawBufferPointer(start: s.base + start, count: end - start), as: UTF8.self)
                    event.textStatus[t] = .present
                }
            case UInt8(ascii: "t"), UInt8(ascii: "f"):
                let yes = c == UInt8(ascii: "t")
                try s.literal(yes ? "true" : "false")
                if let n { event.values[n] = yes ? 1 : 0; event.status[n] = .present }
                if let t { event.texts[t] = yes ? "true" : "false"; event.textStatus[t] = .present }
            case UInt8(ascii: "n"): try s.literal("null")  // stays missing
            default:
                try s.skipValue()
                if let n { event.status[n] = .wrongType }
                if let t { event.textStatus[t] = .wrongType }
            }
        }
    }
}
