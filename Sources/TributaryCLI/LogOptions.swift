import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

/// `--log-level` and `--log-format`, overriding cluster.conf's `log_level` and `log_format`.
struct LogOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning or error (overrides cluster.conf's log_level).")
    var logLevel: String?
    @Option(help: "Log format: text, or json (one object per line) (overrides cluster.conf's log_format).")
    var logFormat: String?

    func validate() throws {
        let levels = ClusterConfig.ClusterSection.logLevels
        if let logLevel, !levels.contains(logLevel) {
            throw ValidationError("--log-level must be one of \(levels.joined(separator: ", ")); got '\(logLevel)'")
        }
        if let logFormat, LogFormat(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text or json; got '\(logFormat)'")
        }
    }
}
