import Foundation
import Config
import Models

public struct Reregister: Sendable, Codable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}
