#if canImport(Glibc)
import Glibc
#endif

/// Whole-run and rolling-window metrics plus drift detection on the loss: what each worker
/// reports (and the coordinator merges into cluster-wide figures).
public struct EvaluationReport: Sendable, Codable, Equatable {
    public var whole: MetricState
    /// The last `windowSize` labelled predictions (per worker; merged, the union of them).
    public var window: MetricState
    public var windowSize: Int
    public var driftDetections = 0
    /// Labelled predictions seen at the latest detection (0: none yet).
    public var lastDriftAt: Int64 = 0
    /// The current Page-Hinkley statistic and its threshold.
    public var driftStatistic = 0.0
    public var driftThreshold = 0.0

    public init(task: ModelTask, classes: Int, windowSize: Int) {
        whole = MetricState(task: task, classes: classes)
        window = whole
        self.windowSize = windowSize
    }

    public mutating func merge(_ o: EvaluationReport) {
        whole.merge(o.whole)
        window.merge(o.window)
        driftDetections += o.driftDetections
        lastDriftAt = Swift.max(lastDriftAt, o.lastDriftAt)
        driftStatistic = Swift.max(driftStatistic, o.driftStatistic)
        driftThreshold = Swift.max(driftThreshold, o.driftThreshold)
    }
}
