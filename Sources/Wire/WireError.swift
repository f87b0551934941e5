import Foundation

public enum WireError: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongVersion(String)
    case malformed(String)
    case unknownType(String)

    public var description: String {
        switch self {
        case .wrongVersion(let v): "wrong protocol tag '\(v)' (expected TRB1)"
        case .malformed(let why): "malformed message: \(why)"
        case .unknownType(let t): "unknown message type '\(t)'"
        }
    }
}
