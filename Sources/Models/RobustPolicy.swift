/// How outlying deltas are treated before the merge (issue 10: one worker must not be able
/// to destroy the global model).
public struct RobustPolicy: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Equatable, Codable, CaseIterable {
        /// Scale an outlying delta down to the limit, cap its samples likewise.
        case clip
        /// Drop an outlying delta (counted against its worker).
        case reject
        case off
    }
    public var mode: Mode
    /// A delta whose L2 norm exceeds `factor` × the reference norm is outlying; claimed
    /// samples above `factor` × the reference samples are capped.
    public var factor: Double
    public init(mode: Mode = .clip, factor: Double = 3) {
        self.mode = mode
        self.factor = factor
    }
}
