/// Counts of what the feature path did besides scoring, for status and metrics.
public struct FeatureCounters: Sendable, Equatable {
    /// "reason:field" -> records.
    public var badValues: [String: Int] = [:]
    public var lateDropped = 0
    public var lateDeadLettered = 0
    public var expiredKeys = 0
    public init() {}
}
