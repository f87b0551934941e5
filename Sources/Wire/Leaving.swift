import Foundation
import Config
import Models

public struct Leaving: Sendable, Codable, Equatable {
    public var workerId: String
    public init(workerId: String) { self.workerId = workerId }
}
