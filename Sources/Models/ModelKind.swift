#if canImport(Glibc)
import Glibc
#endif

/// What a model predicts, and with which loss it learns.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    /// P(y = 1) = σ(w·x + b); log loss. River's `linear_model.LogisticRegression`.
    case logisticRegression = "logistic_regression"
    /// P(y = k) = softmax(W·x + b)_k; cross-entropy. River's `linear_model.SoftmaxRegression`
    /// (with an intercept per class).
    case softmaxRegression = "softmax_regression"
    /// ŷ = w·x + b; squared loss (y − ŷ)², gradient 2(ŷ − y) as River's `LinearRegression`.
    case linearRegression = "linear_regression"

    public var task: ModelTask {
        switch self {
        case .logisticRegression: .binary
        case .softmaxRegression: .multiclass
        case .linearRegression: .regression
        }
    }
}
