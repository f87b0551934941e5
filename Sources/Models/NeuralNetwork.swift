/// A multi-layer perceptron as scikit-learn's `MLPClassifier` / `MLPRegressor` compute it:
/// h = act(h·W + b) through the hidden layers, then the output layer and `link`.
public struct NeuralNetwork: Sendable, Codable, Equatable {
    public enum Activation: String, Sendable, Codable { case relu, tanh, logistic, identity }
    public struct Layer: Sendable, Codable, Equatable {
        public var inputs: Int
        public var outputs: Int
        /// Row-major by input: weights[i * outputs + j] joins input i to unit j (`coefs_[l]`).
        public var weights: [Double]
        public var bias: [Double]
        public init(inputs: Int, outputs: Int, weights: [Double], bias: [Double]) {
            self.inputs = inputs
            self.outputs = outputs
            self.weights = weights
            self.bias = bias
        }
    }
    public var activation: Activation
    public var layers: [Layer]
    public var link: PretrainedEstimator.Link

    public init(activation: Activation, layers: [Layer], link: PretrainedEstimator.Link) {
        self.activation = activation
        self.layers = layers
        self.link = link
    }

    func problem(width: Int, outputs: Set<Int>) -> String? {
        guard !layers.isEmpty else { return "'estimator.layers' is empty" }
        var expected = width
        for (l, layer) in layers.enumerated() {
            guard layer.inputs == expected else {
                return "'estimator.layers'[\(l)] has \(layer.inputs) inputs, expected \(expected)\(l == 0 ? " (the pipeline's columns)" : " (the outputs of layer \(l - 1))")"
            }
            guard layer.outputs >= 1 else { return "'estimator.layers'[\(l)] has \(layer.outputs) outputs" }
            guard layer.weights.count == layer.inputs * layer.outputs else {
                return "'estimator.layers'[\(l)].weights has \(layer.weights.count) values, expected \(layer.inputs) × \(layer.outputs) = \(layer.inputs * layer.outputs)"
            }
            guard layer.bias.count == layer.outputs else {
                return "'estimator.layers'[\(l)].bias has \(layer.bias.count) values, expected \(layer.outputs)"
            }
            guard layer.weights.allSatisfy(\.isFinite), layer.bias.allSatisfy(\.isFinite) else {
                return "'estimator.layers'[\(l)] has a non-finite weight or bias"
            }
            expected = layer.outputs
        }
        guard outputs.contains(expected) else {
            return "the last layer has \(expected) outputs, expected \(outputs.sorted().map(String.init).joined(separator: " or "))"
        }
        if link == .proba || link == .ovr { return "'estimator.link' \(link.rawValue) is not an MLP output" }
        return nil
    }
}
