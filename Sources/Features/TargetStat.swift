/// Running label statistics of one target-encoding value.
public struct TargetStat: Sendable, Equatable {
    public var count: Double = 0
    public var sum: Double = 0
    public var lastSeen: Double = -.infinity
}
