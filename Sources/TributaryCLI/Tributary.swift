import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

struct Tributary: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tributary",
        abstract: "Streaming machine learning on Apache Kafka.",
        discussion: """
        Start one coordinator per cluster and workers on any host; the coordinator assigns the
        input topic's partitions to workers. `tributary demo` runs everything locally.
        Commands that talk to a coordinator default to $TRIBUTARY_COORDINATOR, else
        tcp://127.0.0.1:7400. Shell completion: `tributary --generate-completion-script bash`
        (or zsh, fish).
        """,
        version: BuildInfo.version,
        subcommands: [Demo.self, Coordinator.self, WorkerCommand.self, Status.self, Produce.self, BenchRestore.self,
                      Tail.self, Report.self, ModelCommandGroup.self, Replay.self, Broker.self, Bench.self, BenchScale.self, ConfigCommand.self, KeysCommand.self, RelayCommand.self])
}

/// Exit with a message a person can act on (no stack trace).
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    // At once, without exit handlers: the command is abandoned mid-way, and LeakSanitizer's
    // exit check would report what it still held as leaks (sanitizer runs, issue 10).
    fflush(nil)  // every C stream (print goes through stdout)
    _exit(2)
}

func loadConfig(_ path: String?) -> ClusterConfig {
    guard let path else { return ClusterConfig() }
    do { return try ClusterConfig.load(path: path) } catch { fail("\(error)") }
}

/// `TRIBUTARY_COORDINATOR`, for commands whose coordinator is optional (nil: unset or empty).
func environmentCoordinator() -> String? {
    let v = ProcessInfo.processInfo.environment["TRIBUTARY_COORDINATOR"] ?? ""
    return v.isEmpty ? nil : v
}

/// Prints a line to stdout and flushes (the demo and tests read these lines from pipes).
func say(_ s: String) {
    FileHandle.standardOutput.write(Data((s + "\n").utf8))
}
