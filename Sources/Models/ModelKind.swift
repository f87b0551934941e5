#if canImport(Glibc)
import Glibc
#endif

/// What a model predicts, and with which loss it learns.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    /// P(y = 1) = σ(w·x + b); log loss. River's `linear_model.LogisticRegression`.
    case logisticRegression = "logistic_regression"
    /// P(y = k) = softmax(W·x + b)_k; cross-entropy. With an intercept per class by default;
    /// River's `linear_model.SoftmaxRegression` has none and adds a class at first sight:
    /// `intercept = false` with its classes registered up front is the same model (parity test).
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
