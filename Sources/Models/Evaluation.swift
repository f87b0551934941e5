#if canImport(Glibc)
import Glibc
#endif

public struct Evaluation: Sendable {
    public private(set) var report: EvaluationReport
    private var ring: [Observation] = []
    private var next = 0
    private var detector: PageHinkley?

    /// `drift` nil: no drift detection.
    public init(task: ModelTask, classes: Int = 2, windowSize: Int = 1000, drift: PageHinkley? = PageHinkley()) {
        report = EvaluationReport(task: task, classes: classes, windowSize: Swift.max(1, windowSize))
        ring.reserveCapacity(report.windowSize)
        detector = drift
        report.driftThreshold = drift?.threshold ?? 0
    }

    /// Records one outcome; returns true if it set off drift detection.
    @discardableResult
    public mutating func observe(_ o: Observation) -> Bool {
        report.whole.apply(o)
        report.window.apply(o)
        if ring.count < report.windowSize {
            ring.append(o)
        } else {
            report.window.apply(ring[next], sign: -1)
            ring[next] = o
            next = (next + 1) % report.windowSize
        }
        guard detector != nil, o.loss.isFinite else { return false }
        let drift = detector!.update(o.loss)
        report.driftStatistic = detector!.statistic
        if drift {
            report.driftDetections += 1
            report.lastDriftAt = report.whole.count
        }
        return drift
    }
}
