import Foundation
import Logging
import Synchronization

/// Process-wide logging setup.
public enum Log {
    private static let formatCode = Atomic<Int>(0)

    /// The format every `LineLogHandler` of this process writes.
    public static var format: LogFormat {
        get { formatCode.load(ordering: .relaxed) == 1 ? .json : .text }
        set { formatCode.store(newValue == .json ? 1 : 0, ordering: .relaxed) }
    }

    /// Makes `LineLogHandler` swift-log's backend; once per process, before any logger is made.
    public static func bootstrap(format: LogFormat = .text) {
        Log.format = format
        LoggingSystem.bootstrap { LineLogHandler(label: $0) }
    }

    /// A logger at a level named in `cluster.conf` or a flag (validated there; unknown names
    /// fall back to info).
    public static func logger(_ label: String, level: String = "info") -> Logger {
        var l = Logger(label: label)
        l.logLevel = Logger.Level(rawValue: level) ?? .info
        return l
    }
}
