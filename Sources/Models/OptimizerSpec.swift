#if canImport(Glibc)
import Glibc
#endif

/// How a linear model's parameters move on each labelled event. Pure value: the per-coordinate
/// state lives in `Optimizer`.
public struct OptimizerSpec: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// w -= η_t (g + l2·w), then L1 by truncation (River's `optim.SGD`).
        case sgd
        /// Per-coordinate rates η / √(Σg² + ε) (River's `optim.AdaGrad`).
        case adagrad
        /// Bias-corrected first and second moments (River's `optim.Adam`).
        case adam
        /// FTRL-Proximal (McMahan et al. 2013): per-coordinate z, n; closed-form weights with
        /// L1 (exact zeros) and L2. The usual choice for sparse click-through data.
        case ftrl
    }
    public enum Schedule: String, Sendable, Codable, CaseIterable {
        case constant
        /// η_t = η / t^power (t = labelled events learnt, from 1), River's `InverseScaling`.
        case inverseScaling = "inverse_scaling"
    }
    public var kind: Kind = .sgd
    /// η for SGD/AdaGrad/Adam, α for FTRL.
    public var learningRate = 0.01
    public var schedule: Schedule = .constant
    public var power = 0.5
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-8
    /// FTRL's β (smooths the per-coordinate rate at the start).
    public var ftrlBeta = 1.0

    public init(kind: Kind = .sgd, learningRate: Double = 0.01, schedule: Schedule = .constant) {
        self.kind = kind
        self.learningRate = learningRate
        self.schedule = schedule
    }
}
