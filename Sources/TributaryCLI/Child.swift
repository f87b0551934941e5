import ArgumentParser
import Foundation
import Runtime
import Wire

/// A child `tributary` process of the demo.
final class Child {
    let name: String
    let process = Process()
    let stdout = Pipe()

    init(_ name: String, _ args: [String], logTo log: FileHandle?) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments = args
        process.standardOutput = stdout
        if let log { process.standardError = log }
        try process.run()
    }

    /// The first stdout line (the coordinator announces its endpoint this way).
    func firstLine() -> String? {
        var bytes: [UInt8] = []
        let h = stdout.fileHandleForReading
        while true {
            let d = h.readData(ofLength: 1)
            if d.isEmpty { return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self) }
            if d[0] == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(d[0])
        }
    }

    func terminate() { if process.isRunning { kill(process.processIdentifier, SIGTERM) } }

    /// Waits up to `seconds`; then kills. Returns the exit status (or nil if killed).
    func wait(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}
