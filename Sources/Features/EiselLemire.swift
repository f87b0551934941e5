/// Decimal to binary64, correctly rounded, for a significand of at most 19 digits:
/// w × 10^q with one or two 64 × 128-bit multiplications (Eisel-Lemire, as in fast_float:
/// Lemire, "Number Parsing at a Gigabyte per Second", 2021; Mushtak and Lemire, "Fast Number
/// Parsing Without Fallback", 2023). Hand-written because event numbers are the parser's
/// hottest path: a synthetic event's 17-digit values went through `strtod` (a copy of the
/// token, then libc's arbitrary-precision path) at about a third of the parse time in a
/// profile; no Swift package on this machine parses decimals. Results are compared with
/// `strtod` on random and edge-case tokens in the unit tests and by the `number` fuzz target.
enum EiselLemire {
    static let smallestPowerOfTen = -342
    static let largestPowerOfTen = 308

    /// w × 10^q as the nearest double (ties to even); `w` is exact (not truncated).
    static func double(_ w: UInt64, _ q: Int, negative: Bool) -> Double {
        let bits: UInt64
        if w == 0 || q < smallestPowerOfTen {
            bits = 0
        } else if q > largestPowerOfTen {
            bits = 0x7FF << 52
        } else {
            bits = compute(w, q)
        }
        return Double(bitPattern: bits | (negative ? 1 << 63 : 0))
    }

    /// The binary64 bit pattern (without sign) of w × 10^q, q in -342...308, w > 0.
    private static func compute(_ w0: UInt64, _ q: Int) -> UInt64 {
        let lz = w0.leadingZeroBitCount
        let w = w0 << UInt64(lz)
        // The product's top 55 bits (52 explicit, the implicit one, a rounding bit, and
        // one the upper-bit shift may lose) must be exact: a second multiplication by the
        // next 64 bits of 5^q settles them when the first leaves them in doubt.
        let index = 2 * (q - smallestPowerOfTen)
        var (high, low) = w.multipliedFullWidth(by: powersOfFive[index])
        let precisionMask: UInt64 = 0xFFFF_FFFF_FFFF_FFFF >> 55
        if high & precisionMask == precisionMask {
            let second = w.multipliedFullWidth(by: powersOfFive[index + 1]).high
            let (sum, carry) = low.addingReportingOverflow(second)
            low = sum
            if carry { high &+= 1 }
        }
        let upperbit = Int(high >> 63)
        var mantissa = high >> UInt64(upperbit + 64 - 52 - 3)
        var power2 = ((152_170 + 65_536) * q) >> 16 + 63 + upperbit - lz + 1023
        if power2 <= 0 {
            // Subnormal (or zero): no round-to-even case can land here.
            if -power2 + 1 >= 64 { return 0 }
            mantissa >>= UInt64(-power2 + 1)
            mantissa += mantissa & 1
            mantissa >>= 1
            // 2.2250738585072013e-308 rounds up into the normal range.
            power2 = mantissa < (1 << 52) ? 0 : 1
            return mantissa | UInt64(power2) << 52
        }
        // Exactly halfway between two doubles (only where 5^q fits in 64 bits): ties to even.
        if low <= 1 && q >= -4 && q <= 23 && mantissa & 3 == 1
            && mantissa << UInt64(upperbit + 64 - 52 - 3) == high {
            mantissa &= ~1
        }
        mantissa += mantissa & 1
        mantissa >>= 1
        if mantissa >= 2 << 52 {
            mantissa = 1 << 52
            power2 += 1
        }
        mantissa &= ~(1 << 52)
        if power2 >= 0x7FF { return 0x7FF << 52 }
        return mantissa | UInt64(power2) << 52
    }
}
