import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A failure in a service shell, with a message meant for the person running it.
public struct ServiceError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}
