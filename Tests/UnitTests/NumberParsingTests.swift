import Foundation
import Testing
@testable import Features

/// The event parser's numbers (`Scanner.number`: a 64-bit fast path, Eisel-Lemire, strtod for
/// more than 19 digits) against glibc's strtod, which rounds correctly.
@Suite("Number parsing")
struct NumberParsingTests {
    func scan(_ text: String, shift: Int = 0) throws -> Double {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBytes { b in
            var s = Scanner(b)
            return try s.number(shift: shift)
        }
    }

    func reference(_ text: String) -> Double { strtod(text, nil) }

    @Test("the powers-of-five table: fast_float's first entry, and 5^q exactly for q in 0...27")
    func table() {
        let t = EiselLemire.powersOfFive
        #expect(t.count == 651 * 2)
        #expect(t[0] == 0xEEF4_53D6_923B_D65A && t[1] == 0x113F_AA29_06A1_3B3F)
        var p: UInt64 = 1
        for q in 0...27 {
            let i = 2 * (q + 342)
            // 5^q < 2^64 here: normalised to the top bit, the low word is zero.
            #expect(t[i] == p << UInt64(p.leadingZeroBitCount) && t[i + 1] == 0, "5^\(q)")
            if q < 27 { p *= 5 }
        }
    }

    @Test("edge cases equal strtod: halfway ties, subnormals, the largest and smallest doubles, overflow, 19 and 20 digits")
    func edges() throws {
        let cases = [
            "9007199254740993", "9007199254740992.5", "2.2250738585072011e-308", "2.2250738585072012e-308",
            "2.2250738585072013e-308", "4.9406564584124654e-324", "2.4703282292062327e-324", "2.4703282292062328e-324",
            "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309", "1e-342", "1e-343",
            "9999999999999999999", "99999999999999999999", "18446744073709551615", "18446744073709551616",
            "1.000000000000000000000000001", "0.1", "0.2", "0.3", "123456789012345678", "7.2057594037927933e16",
            "-0", "-0.0", "0e400", "1e23", "8.41e21", "5e-324", "1.5e-323", "0.000000000000000000000000000000001",
            "3.0000000000000004", "1e22", "1e-22", "4.35679114813917e-57",
        ]
        for c in cases {
            let got = try scan(c), want = reference(c)
            #expect(got.bitPattern == want.bitPattern, "\(c): \(got) vs strtod \(want)")
        }
    }

    @Test("200,000 random numbers of 1 to 19 digits, any decimal point, exponents -360...330: bit for bit strtod")
    func random() throws {
        var rng = SplitMix64(seed: 7)
        var mismatches: [String] = []
        for _ in 0..<200_000 {
            let digits = 1 + Int(rng.next() % 19)
            var d = ""
            for k in 0..<digits { d.append(Character(UnicodeScalar(UInt8(0x30 + (k == 0 ? 1 + rng.next() % 9 : rng.next() % 10))))) }
            let point = Int(rng.next() % UInt64(digits + 1))
            var text = point == digits ? d : String(d.prefix(point == 0 ? 1 : point)) + "." + String(d.dropFirst(point == 0 ? 1 : point))
            if text.hasSuffix(".") { text.removeLast() }
            if rng.next() % 3 != 0 { text += "e\(Int(rng.next() % 691) - 360)" }
            if rng.next() % 2 == 0 { text = "-" + text }
            let got = try scan(text), want = reference(text)
            if got.bitPattern != want.bitPattern && mismatches.count < 10 { mismatches.append("\(text): \(got) vs \(want)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test("shortest round-trip texts of 100,000 random doubles parse back to the same double")
    func roundTrip() throws {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<100_000 {
            let v = Double(bitPattern: rng.next() & ~(0x7FF << 52) | (UInt64(1 + rng.next() % 0x7FE) << 52))
            #expect(try scan(v.description) == v, "\(v)")
        }
    }

    @Test("a unit shift is applied on the decimal digits: equal to strtod of the shifted token")
    func shifted() throws {
        for (text, shift, want) in [("1700000000123", 3, "1700000000.123"), ("1700000000123456", 6, "1700000000.123456"),
                                    ("1.5", -3, "1500"), ("1700000000123456789", 9, "1700000000.123456789")] {
            #expect(try scan(text, shift: shift).bitPattern == reference(want).bitPattern, "\(text) shift \(shift)")
        }
    }
}
