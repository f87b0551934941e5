#if canImport(Glibc)
import Glibc
#endif

extension ModelTask {
    /// The figures `MetricState.figures` gives for this task, by name.
    public var metricNames: [String] {
        switch self {
        case .binary: ["accuracy", "log_loss", "roc_auc"]
        case .multiclass: ["accuracy", "log_loss", "macro_f1"]
        case .regression: ["mae", "rmse", "r2"]
        }
    }
}
