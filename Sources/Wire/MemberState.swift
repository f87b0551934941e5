import Foundation
import Config
import Models

public enum MemberState: String, Sendable, Codable, Equatable {
    case joining, up, leaving, suspect, dead
}
