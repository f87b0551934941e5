import Foundation
import Config
import Models

public struct WireFailure: Sendable, Codable, Equatable {
    public var message: String
    public init(message: String) { self.message = message }
}
