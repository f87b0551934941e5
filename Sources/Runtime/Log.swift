import Foundation

/// Minimal structured logger for the shells: one line per event on stderr,
/// `2026-11-24T09:30:00.123Z info  coordinator: message`.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case trace, debug, info, notice, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public init(_ name: String) {
            switch name {
            case "trace": self = .trace
            case "debug": self = .debug
            case "notice": self = .notice
            case "warning": self = .warning
            case "error": self = .error
            default: self = .info
            }
        }
    }
    public let label: String
    public var level: Level

    public init(label: String, level: Level = .info) {
        self.label = label
        self.level = level
    }

    public func log(_ l: Level, _ message: @autoclosure () -> String) {
        guard l >= level else { return }
        let ts = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        let line = "\(ts) \(String(describing: l).padding(toLength: 7, withPad: " ", startingAt: 0)) \(label): \(message())\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
    public func info(_ m: @autoclosure () -> String) { log(.info, m()) }
    public func warning(_ m: @autoclosure () -> String) { log(.warning, m()) }
    public func error(_ m: @autoclosure () -> String) { log(.error, m()) }
    public func debug(_ m: @autoclosure () -> String) { log(.debug, m()) }
}
