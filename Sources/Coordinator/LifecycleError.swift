import Config
import Models
import Wire
import Features

public struct LifecycleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
