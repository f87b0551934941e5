#if canImport(Glibc)
import Glibc
#endif

/// How a named value was found. Structural problems (not JSON, no key) fail the whole
/// parse; a bad *feature* value is recorded here so the pipeline can apply the configured
/// policy (dead-letter, default, skip).
public enum ValueStatus: UInt8, Sendable {
    case missing, present, wrongType, notFinite
    /// A timestamp beyond ±1e12 s (31,700 years): no real event time, and beyond what window
    /// arithmetic (bucket numbers as Int64) is defined for.
    case outOfRange
}
