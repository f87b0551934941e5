import ArgumentParser
import Foundation
import Histogram
import Kafka
import Models
import Runtime
import Wire
import Worker

/// One benchmark run's measurements.
struct RunResult: Codable {
    var name: String
    var events: Int
    var seconds: Double
    var eventsPerSecond: Double
    var cpuMicrosPerEvent: Double?
    var peakRSSMiB: Double?
    var accuracy: Double?
    /// CPU of the broker during the run (the mock cluster's thread, or Tansu's process; nil
    /// for an external cluster): it shares the machine's cores with what is measured. A bare
    /// run's `cpuMicrosPerEvent` is the client's alone (the mock's thread subtracted).
    var brokerCpuMicrosPerEvent: Double?
}

/// CPU seconds (user + system) of a process, from /proc.
func cpuSeconds(pid: Int32) -> Double? { threadCPUSeconds("/proc/\(pid)/stat") }

/// utime + stime from a /proc stat file (a process's, or one thread's under task/).
func threadCPUSeconds(_ path: String) -> Double? {
    guard let stat = try? String(contentsOfFile: path, encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    // After the command: state(0) ... utime is field 14 overall -> index 11 here, stime 12.
    guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return nil }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Peak resident memory (VmHWM) of a process in MiB.
func peakRSSMiB(pid: Int32) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
    return kb / 1024
}
