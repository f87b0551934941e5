import Foundation
import Config
import Models

public struct Reregister: Sendable, Codable, Equatable {
    public var reason: String
    /// From a standby coordinator (issue 23): the active one's address and epoch, to
    /// register there instead.
    public var active: String?
    public var activeEpoch: Int64?
    public init(reason: String, active: String? = nil, activeEpoch: Int64? = nil) {
        self.reason = reason
        self.active = active
        self.activeEpoch = activeEpoch
    }
}
