/// What became of one event in the feature path.
public enum FeatureOutcome: Sendable, Equatable {
    case features
    /// Behind the partition's watermark with windows configured: not scored.
    case late(deadLetter: Bool)
}
