import Foundation
import ZeroMQ

/// How a worker process runs: whom it registers with and as whom, and its local extras.
public struct WorkerOptions: Sendable {
    public var coordinator: String
    public var workerId: String
    public var host: String
    /// Prometheus endpoint "HOST:PORT", nil = off.
    public var metricsBind: String?
    /// Fault injection for tests of robust averaging: every model delta this worker sends is
    /// poisoned this way (its own model and predictions are not).
    public var deltaFault: DeltaFault?
    /// Override the cluster's `log_level` / `log_format` for this worker.
    public var logLevel: String?
    public var logFormat: String?
    /// The coordinator's CURVE key and ours, when it runs with `[security] curve = true`.
    public var curve: CurveClient?
    /// This host's relay (`tributary relay`): model deltas go there, to be combined with the
    /// host's other workers' before they reach the coordinator; nil = straight to it.
    public var relay: String?
    public init(coordinator: String, workerId: String? = nil) {
        self.coordinator = coordinator
        host = ProcessInfo.processInfo.hostName
        self.workerId = workerId ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    }
}
