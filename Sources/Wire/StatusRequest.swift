import Foundation
import Config
import Models

public struct StatusRequest: Sendable, Codable, Equatable {
    /// Also send the retained quality history (`ClusterStatus.history`, for `tributary
    /// report`). Optional so that `{}` (every other client) still decodes.
    public var history: Bool?
    public init(history: Bool? = nil) { self.history = history }
}
