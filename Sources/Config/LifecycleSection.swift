/// `[lifecycle]`: shadow scoring and the promotion rule (docs/CONFIG.md).
public struct LifecycleSection: Sendable, Codable, Equatable {
    /// Challengers' predictions (and the champion's for keys an A/B split gives a
    /// challenger) go here; "" = nowhere (their metrics are still kept).
    public var shadowTopic = ""
    /// "" = promotion by command only; else the metric the rule compares.
    public var promoteMetric = ""
    /// How much better (absolute) the challenger must be.
    public var promoteMargin = 0.01
    /// Labelled records the challenger must have scored cluster-wide before the rule looks.
    public var promoteMinRecords = 2000
    public init() {}

    /// Metrics where lower is better.
    public static let lowerIsBetter: Set<String> = ["log_loss", "mae", "rmse"]
    public static let metrics = ["accuracy", "log_loss", "roc_auc", "macro_f1", "mae", "rmse", "r2"]
}
