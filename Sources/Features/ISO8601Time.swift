#if canImport(Glibc)
import Glibc
#endif

/// Parses ISO-8601 / RFC 3339 date-times to seconds since the epoch, on the hot path
/// (Foundation's `ISO8601DateFormatter` allocates per call and takes one fixed format).
/// Accepted: `YYYY-MM-DD`, then `T` or a space and `hh:mm[:ss[.fraction]]`, then `Z`, `±hh:mm`,
/// `±hhmm`, `±hh` or nothing (UTC). Returns nil for anything else, or an impossible date.
public enum ISO8601Time {
    public static func seconds(_ b: UnsafeRawBufferPointer) -> Double? {
        let n = b.count
        var i = 0
        @inline(__always) func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += count
            return v
        }
        @inline(__always) func expect(_ c: UInt8) -> Bool {
            guard i < n, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(UInt8(ascii: "-")), let month = digits(2), expect(UInt8(ascii: "-")),
              let day = digits(2), (1...12).contains(month), day >= 1, day <= daysIn(month, year) else { return nil }
        let days = daysFromCivil(year, month, day)
        if i == n { return Double(days) * 86_400 }
        guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: "t") || b[i] == UInt8(ascii: " ") else { return nil }
        i += 1
        guard let hh = digits(2), expect(UInt8(ascii: ":")), let mm = digits(2), hh < 24, mm < 60 else { return nil }
        var ss = 0
        // The fraction as an integer of `fractionDigits` digits, so the result is the correctly
        // rounded value of the exact decimal time: equal to the same instant written as a
        // number of seconds (`1764600000.123`), whatever the unit.
        var fraction: Int64 = 0
        var fractionDigits = 0
        if i < n && b[i] == UInt8(ascii: ":") {
            i += 1
            guard let s = digits(2), s <= 60 else { return nil }  // 60: a leap second
            ss = s
            if i < n && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",")) {
                i += 1
                let start = i
                while i < n, b[i] >= 0x30 && b[i] <= 0x39 {
                    // Beyond nanoseconds no clock is that precise; the digits are ignored.
                    if fractionDigits < 9 { fraction = fraction * 10 + Int64(b[i] - 0x30); fractionDigits += 1 }
                    i += 1
                }
                guard i > start else { return nil }
            }
        }
        var whole = Int64(days) * 86_400 + Int64(hh * 3600 + mm * 60 + ss)
        if i < n {
            let sign = b[i]
            if sign == UInt8(ascii: "Z") || sign == UInt8(ascii: "z") {
                guard i + 1 == n else { return nil }
            } else {
                guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
                i += 1
                guard let oh = digits(2), oh < 24 else { return nil }
                var om = 0
                if i < n {
                    _ = expect(UInt8(ascii: ":"))
                    guard let m = digits(2), m < 60 else { return nil }
                    om = m
                }
                guard i == n else { return nil }
                let offset = Int64(oh * 3600 + om * 60)
                whole += sign == UInt8(ascii: "+") ? -offset : offset
            }
        }
        return combine(whole, fraction, fractionDigits)
    }

    /// whole + fraction / 10^digits, correctly rounded.
    static func combine(_ whole: Int64, _ fraction: Int64, _ digits: Int) -> Double {
        guard digits > 0 else { return Double(whole) }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: scale)
        // The fraction counts forward from `whole`, also before 1970 (-1 s + .5 = -0.5 s).
        let total = scaled + fraction
        if !overflow && total.magnitude < (1 << 53) {
            // Both exact in a Double, and one division rounds once.
            return Double(total) / Double(scale)
        }
        let negative = whole < 0 && fraction > 0
        let (w, f) = negative ? ((whole + 1).magnitude, scale - fraction) : (whole.magnitude, fraction)
        let digitsText = String(f)
        let text = (whole < 0 ? "-" : "") + "\(w)." + String(repeating: "0", count: digits - digitsText.count) + digitsText
        return strtod(text, nil)
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
