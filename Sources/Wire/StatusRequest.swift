import Foundation
import Config
import Models

public struct StatusRequest: Sendable, Codable, Equatable {
    public init() {}
}
