#if canImport(Glibc)
import Glibc
#endif

/// Page-Hinkley test for an increase in the mean of a stream (here: the running loss, so a
/// detection means the model got worse). River's `drift.PageHinkley(mode="up")`, the same
/// update and defaults.
public struct PageHinkley: Sendable, Codable, Equatable {
    public var minInstances = 30
    public var delta = 0.005
    public var threshold = 50.0
    public var alpha = 1 - 0.0001
    private var n = 0
    private var mean = 0.0
    private var sum = 0.0
    private var minimum = Double.infinity
    /// The current test statistic (sum − its minimum); a detection when it passes `threshold`.
    public private(set) var statistic = 0.0

    public init(minInstances: Int = 30, delta: Double = 0.005, threshold: Double = 50) {
        self.minInstances = minInstances
        self.delta = delta
        self.threshold = threshold
    }

    /// Returns true when drift is detected; the test then starts afresh.
    public mutating func update(_ x: Double) -> Bool {
        n += 1
        mean += (x - mean) / Double(n)
        sum = alpha * sum + (x - mean) - delta
        if sum < minimum { minimum = sum }
        statistic = sum - minimum
        guard n >= minInstances, statistic > threshold else { return false }
        // Start afresh (River resets on the next update; the same sequence of detections).
        n = 0
        mean = 0
        sum = 0
        minimum = .infinity
        return true
    }
}
