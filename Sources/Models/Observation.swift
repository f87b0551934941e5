#if canImport(Glibc)
import Glibc
#endif

/// One progressive-validation outcome: the prediction made before learning, and the label.
public struct Observation: Sendable, Equatable {
    /// 0/1, the class index, or the regression target.
    public var label: Double
    /// P(y=1), the predicted class index, or ŷ.
    public var prediction: Double
    /// The event's loss: log loss, cross-entropy, or squared error.
    public var loss: Double

    public init(label: Double, prediction: Double, loss: Double) {
        self.label = label
        self.prediction = prediction
        self.loss = loss
    }

    /// Probabilities are clamped to [1e-15, 1 − 1e-15] for the loss, as River's metrics do.
    public static func binary(probability p: Double, label y: Double) -> Observation {
        let q = Swift.min(Swift.max(p, 1e-15), 1 - 1e-15)
        return Observation(label: y > 0.5 ? 1 : 0, prediction: p, loss: y > 0.5 ? -log(q) : -log(1 - q))
    }

    public static func multiclass(probabilities: [Double], predicted: Int, label y: Int) -> Observation {
        let q = Swift.min(Swift.max(probabilities[y], 1e-15), 1 - 1e-15)
        return Observation(label: Double(y), prediction: Double(predicted), loss: -log(q))
    }

    public static func regression(prediction: Double, target: Double) -> Observation {
        Observation(label: target, prediction: prediction, loss: (prediction - target) * (prediction - target))
    }
}
