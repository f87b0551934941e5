/// What the robust step did to one delta.
public enum RobustAction: Sendable, Equatable {
    case accepted
    case clipped(norm: Double, limit: Double)
    case samplesCapped(claimed: Int, cap: Int)
    case rejected(norm: Double, limit: Double)
}
