#if canImport(Glibc)
import Glibc
#endif

/// Cursor over JSON bytes.
struct Scanner {
    let base: UnsafeRawPointer
    let n: Int
    var i = 0

    init(_ buf: UnsafeRawBufferPointer) {
        // An empty buffer may have a nil base; point at a static byte instead.
        base = buf.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
        n = buf.count
    }

    @inline(__always) var peek: UInt8? { i < n ? base.load(fromByteOffset: i, as: UInt8.self) : nil }
    @inline(__always) func at(_ j: Int) -> UInt8 { base.load(fromByteOffset: j, as: UInt8.self) }

    @inline(__always) mutating func skipWS() {
        while i < n {
            let c = at(i)
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
        }
    }

    /// At an opening quote: returns the content bounds and whether it holds escapes.
    mutating func stringBounds() throws(EventError) -> (Int, Int, Bool) {
        i += 1
        let start = i
        var escaped = false
        while i < n {
            let c = at(i)
            if c == UInt8(ascii: "\"") {
                let end = i
                i += 1
                return (start, end, escaped)
            }
            if c == UInt8(ascii: "\\") { escaped = true; i += 2; continue }
            if c < 0x20 { throw .notJSON("control character in string at \(i)") }
            i += 1
        }
        throw .notJSON("unterminated string")
    }

    static func unescape(_ base: UnsafeRawPointer, _ start: Int, _ end: Int) -> String {
        var out: [UInt8] = []
        var j = start
        while j < end {
            let c = base.load(fromByteOffset: j, as: UInt8.self)
            if c == UInt8(ascii: "\\"), j + 1 < end {
                let e = base.load(fromByteOffset: j + 1, as: UInt8.self)
                j += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u") where j + 4 <= end:
                    let hex = String(decoding: UnsafeRawBufferPointer(start: base + j, count: 4), as: UTF8.self)
                    if let v = UInt32(hex, radix: 16), let sc = Unicode.Scalar(v) {
                        out.append(contentsOf: Array(String(Character(sc)).utf8))
                    }
                    j += 4
                default: out.append(e)
                }
            } else {
                out.append(c)
                j += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func literal(_ word: StaticString) throws(EventError) {
        let len = word.utf8CodeUnitCount
        guard i + len <= n, memcmp(base + i, word.utf8Start, len) == 0 else {
            throw .notJSON("bad literal at \(i)")
        }
        i += len
    }

    /// Exact for the common case (≤ 19 digits total, |exp10| ≤ 22 and mantissa < 2^53: the
    /// Clinger fast path), strtod otherwise, so results equal a correct parser bit for bit.
    /// - shift: the value is the token's × 10^-shift (a timestamp unit's conversion to seconds,
    ///   done on the decimal digits so it is rounded once).
    mutating func number(shift: Int = 0) throws(EventError) -> Double {
        let start = i
        var neg = false
        if at(i) == UInt8(ascii: "-") { neg = true; i += 1 }
        var mant: UInt64 = 0
        var digits = 0
        var exp10 = 0
        var sawDigit = false
        // A nonzero digit beyond the 19 the significand holds: only strtod is exact then.
        var truncated = false
        while i < n, case let c = at(i), c >= 0x30 && c <= 0x39 {
            if digits < 19 { mant = mant &* 10 &+ UInt64(c - 0x30); if mant > 0 { digits += 1 } } else { exp10 += 1; if c != 0x30 { truncated = true } }
            sawDigit = true
            i += 1
        }
        guard sawDigit else { throw .notJSON("bad number at \(start)") }
        if i < n && at(i) == UInt8(ascii: ".") {
            i += 1
            var frac = false
            while i < n, case let c = at(i), c >= 0x30 && c <= 0x39 {
                if digits < 19 { mant = mant &* 10 &+ UInt64(c - 0x30); if mant > 0 { digits += 1 }; exp10 -= 1 } else if c != 0x30 { truncated = true }
                frac = true
                i += 1
            }
            guard frac else { throw .notJSON("bad number at \(start)") }
        }
        if i < n && (at(i) == UInt8(ascii: "e") || at(i) == UInt8(ascii: "E")) {
            i += 1
            var eneg = false
            if i < n && (at(i) == UInt8(ascii: "+") || at(i) == UInt8(ascii: "-")) { eneg = at(i) == UInt8(ascii: "-"); i += 1 }
            var e = 0
            var sawE = false
            while i < n, case let c = at(i), c >= 0x30 && c <= 0x39 {
                if e < 100_000 { e = e * 10 + Int(c - 0x30) }
                sawE = true
                i += 1
            }
            guard sawE else { throw .notJSON("bad number at \(start)") }
            exp10 += eneg ? -e : e
        }
        exp10 -= shift
        if digits < 19 && mant < (1 << 53) && exp10 >= -22 && exp10 <= 22 {
            var d = Double(mant)
            if exp10 < 0 { d /= Scanner.pow10[-exp10] } else { d *= Scanner.pow10[exp10] }
            return neg ? -d : d
        }
        if !truncated {
            return EiselLemire.double(mant, exp10, negative: neg)
        }
        // Correctly rounded fallback: strtod over the whole token (the grammar above has
        // checked it is a JSON number), on the stack when short. Every digit counts: 400
        // nines overflow to infinity (a not-finite value, as 1e400), and a long run of
        // zeros moves the exponent.
        let len = i - start
        if shift != 0 { return shifted(start, len, shift) }
        if len < 64 {
            return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { tmp in
                memcpy(tmp.baseAddress!, base + start, len)
                tmp[len] = 0
                return strtod(tmp.baseAddress!, nil)
            }
        }
        var token = [CChar](repeating: 0, count: len + 1)
        token.withUnsafeMutableBytes { _ = memcpy($0.baseAddress!, base + start, len) }
        return strtod(token, nil)
    }

    /// strtod of the token at [start, start+len) times 10^-shift, rounded once: the token with
    /// its exponent rewritten.
    func shifted(_ start: Int, _ len: Int, _ shift: Int) -> Double {
        var mantissa = [UInt8](UnsafeRawBufferPointer(start: base + start, count: len))
        var exponent = 0
        if let e = mantissa.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            // The grammar checked it: [+-]digits; bounded like the fast path's.
            var k = e + 1, neg = false
            if mantissa[k] == UInt8(ascii: "+") || mantissa[k] == UInt8(ascii: "-") { neg = mantissa[k] == UInt8(ascii: "-"); k += 1 }
            for c in mantissa[k...] where exponent < 100_000 { exponent = exponent * 10 + Int(c - 0x30) }
            if neg { exponent = -exponent }
            mantissa.removeSubrange(e...)
        }
        let text = String(decoding: mantissa, as: UTF8.self) + "e\(exponent - shift)"
        return strtod(text, nil)
    }

    static let pow10: [Double] = (0...22).map { e in
        var d = 1.0
        for _ in 0..<e { d *= 10 }
        return d
    }

    /// Skips any JSON value (validating structure, not decoding).
    mutating func skipValue() throws(EventError) {
        guard let c = peek else { throw .notJSON("truncated") }
        switch c {
        case UInt8(ascii: "\""): _ = try stringBounds()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            // Iterative depth tracking; strings skipped so brackets inside them don't count.
            var depth = 0
            while i < n {
                let d = at(i)
                if d == UInt8(ascii: "\"") { _ = try stringBounds(); continue }
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1; if depth > 512 { throw .notJSON("nested too deeply") } }
                else if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") { depth -= 1; if depth == 0 { i += 1; return } }
                i += 1
            }
            throw .notJSON("unterminated \(c == UInt8(ascii: "{") ? "object" : "array")")
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), 0x30...0x39: _ = try number()
        default: throw .notJSON("unexpected byte at \(i)")
        }
    }
}
