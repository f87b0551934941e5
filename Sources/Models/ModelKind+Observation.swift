extension ModelKind {
    /// The progressive-validation observation of a prediction `output` (as `OnlineModel.output`
    /// holds it) once its label `y` is known.
    public func observation(_ output: [Double], label y: Double) -> Observation {
        switch self {
        case .logisticRegression: return .binary(probability: output[0], label: y)
        case .softmaxRegression:
            var best = 0
            for k in output.indices where output[k] > output[best] { best = k }
            return .multiclass(probabilities: output, predicted: best, label: Int(y))
        case .linearRegression: return .regression(prediction: output[0], target: y)
        }
    }
}
