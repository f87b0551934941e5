/// The N-vs-1 monitor in status: the cluster's model and one reference learner that saw the
/// workers' sampled inputs in arrival order, scored progressively on the same samples.
public struct ReferenceReport: Sendable, Codable, Equatable {
    public var samples: Int
    public var clusterLoss: Double
    public var referenceLoss: Double
    /// Accuracy of each on the samples (classification; nil for regression).
    public var clusterAccuracy: Double?
    public var referenceAccuracy: Double?
    /// Samples refused (wrong width, not finite) or dropped (over a delta's cap).
    public var refused: Int
    /// `reference_warn`: the loss gap (cluster − reference) that warns.
    public var warnGap: Double

    public init(samples: Int, clusterLoss: Double, referenceLoss: Double, clusterAccuracy: Double?, referenceAccuracy: Double?,
                refused: Int, warnGap: Double) {
        self.samples = samples
        self.clusterLoss = clusterLoss
        self.referenceLoss = referenceLoss
        self.clusterAccuracy = clusterAccuracy
        self.referenceAccuracy = referenceAccuracy
        self.refused = refused
        self.warnGap = warnGap
    }

    public var gap: Double { clusterLoss - referenceLoss }
}
