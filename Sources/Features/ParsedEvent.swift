#if canImport(Glibc)
import Glibc
#endif

/// The fields of one event that the feature spec names. Reused across events (no
/// per-event allocation beyond the key and text strings, which are small-string-optimised
/// for typical keys).
public struct ParsedEvent: Sendable {
    public var key: String = ""
    public var timestamp: Double? = nil
    public var timestampStatus = ValueStatus.missing
    /// nil: unlabelled (score only).
    public var label: Double? = nil
    /// One per `EventParser.numericPaths`, in order.
    public var values: [Double]
    public var status: [ValueStatus]
    /// One per `EventParser.textPaths`: strings as they are, numbers and booleans as written.
    public var texts: [String]
    public var textStatus: [ValueStatus]

    init(slots: Int, textSlots: Int = 0) {
        values = .init(repeating: 0, count: slots)
        status = .init(repeating: .missing, count: slots)
        texts = .init(repeating: "", count: textSlots)
        textStatus = .init(repeating: .missing, count: textSlots)
    }
}
