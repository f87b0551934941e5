import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// Special start offsets for `assign`.
public enum StartOffset: Sendable, Equatable {
    /// Resume from the group's committed offset (falls back to `auto.offset.reset`).
    case committed
    case beginning
    case end
    case offset(Int64)

    var raw: Int64 {
        switch self {
        case .committed: return tb_offset_stored()
        case .beginning: return tb_offset_beginning()
        case .end: return tb_offset_end()
        case .offset(let o): return o
        }
    }
}

/// A NUL-terminated C buffer as a String.
func cString(_ buf: [CChar]) -> String {
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
