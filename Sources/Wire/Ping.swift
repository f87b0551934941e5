import Foundation
import Config
import Models

public struct Ping: Sendable, Codable, Equatable {
    public var nowMs: Int64
    public init(nowMs: Int64) { self.nowMs = nowMs }
}
