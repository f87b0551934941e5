/// The coordinator's step after merging a round's deltas (server learning rate and server
/// momentum, as FedAvgM and local-SGD papers use them): with `d` the merged change,
/// v ← momentum·v + d and w ← w + learningRate·v. `ServerStep()` is the plain merge.
public struct ServerStep: Sendable, Equatable, Codable {
    public var learningRate: Double
    public var momentum: Double

    public init(learningRate: Double = 1, momentum: Double = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    public var isPlain: Bool { learningRate == 1 && momentum == 0 }
}
