import Foundation
import Logging
import Synchronization

/// The swift-log backend of every Tributary process: one line per event on stderr.
/// - text: `2026-11-24T09:30:00.123Z info    coordinator: message key=value`
/// - json: `{"ts":"2026-11-24T09:30:00.123Z","level":"info","label":"coordinator","message":"...","key":"value"}`
///
/// Loggers are values (swift-log), so each shell sets its own level from `cluster.conf` or a
/// flag. The format is one per process and may change after start: a worker learns the
/// cluster's settings only from the coordinator's welcome.
public struct LineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let line = Self.format(Log.format, ts: Date(), level: event.level, label: label,
                               message: event.message.description, metadata: all)
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// One log line, newline included (a pure function: golden-tested).
    public static func format(_ f: LogFormat, ts: Date, level: Logger.Level, label: String, message: String,
                              metadata: Logger.Metadata) -> String {
        let time = ts.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        let keys = metadata.keys.sorted()
        switch f {
        case .text:
            var line = "\(time) \(level.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(label): \(message)"
            for k in keys { line += " \(k)=\(metadata[k]!)" }
            return line + "\n"
        case .json:
            var line = "{\"ts\":\(jsonString(time)),\"level\":\(jsonString(level.rawValue)),\"label\":\(jsonString(label)),\"message\":\(jsonString(message))"
            for k in keys where !["ts", "level", "label", "message"].contains(k) {
                line += ",\(jsonString(k)):\(jsonString("\(metadata[k]!)"))"
            }
            return line + "}\n"
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
