#if canImport(Glibc)
import Glibc
#endif

public enum ModelTask: String, Sendable, Codable, CaseIterable {
    case binary, multiclass, regression
}
