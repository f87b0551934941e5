/// Scaling | linear model, predict then learn (progressive validation), with River's
/// pipeline semantics: predict scales with the statistics before this event; learn first
/// updates the scaler with the event, then trains on the event as scaled by the updated
/// statistics.
public struct OnlineModel: Sendable, Equatable {
    public enum Scaling: Sendable, Equatable {
        case none
        /// Running mean and variance (River's StandardScaler); kept per worker, not averaged.
        case online(StandardScaler)
        /// Fixed (x − mean) / scale, as a pre-trained model was fitted (scikit-learn's
        /// StandardScaler `mean_`, `scale_`).
        case fixed(mean: [Double], scale: [Double])
    }

    public var scaling: Scaling
    public var model: LinearModel
    /// false: inference only (a deployed model): predicts, is evaluated, never learns.
    public let learns: Bool
    /// A model trained offline beyond one linear layer (`PretrainedPipeline`): it makes the
    /// predictions and holds no averaged parameters; `model` then only names the task.
    public var predictor: PretrainedPredictor?
    /// The latest prediction: [P(y=1)], class probabilities, or [ŷ].
    public private(set) var output: [Double]
    private var scratch: [Double]
    /// The prediction on the re-scaled training input (online scaling), kept apart from
    /// `output` (the reported one) and reused so no event allocates.
    private var retrained: [Double]

    /// - dense: inputs that are scaled; hashed: sparse inputs after them (not scaled: hashed
    ///   counts are on a common scale already, and scaling 2^bits columns per event would cost
    ///   the whole space).
    public init(model: LinearModel, dense: Int, scaling: Scaling, learns: Bool = true) {
        self.model = model
        self.scaling = scaling
        self.learns = learns
        output = .init(repeating: 0, count: model.outputs)
        retrained = output
        scratch = .init(repeating: 0, count: dense)
    }

    /// The defaults of River's `StandardScaler() | LogisticRegression()`.
    public static func logistic(dense: Int, hashed: Int = 0, learningRate: Double = 0.01, standardize: Bool = true) -> OnlineModel {
        OnlineModel(model: LinearModel(kind: .logisticRegression, inputs: dense + hashed,
                                       optimizer: OptimizerSpec(learningRate: learningRate)),
                    dense: dense, scaling: standardize ? .online(StandardScaler(width: dense)) : .none)
    }

    /// What is averaged for this model: the linear model's weights, none for a pre-trained
    /// pipeline.
    public var parameters: [Double] { predictor == nil ? model.parameters : [] }

    public mutating func setParameters(_ p: [Double]) {
        guard predictor == nil else { return }
        model.setParameters(p)
    }

    /// Scores with the pre-trained pipeline: the cluster's dense features and the text.
    public mutating func predictPretrained(dense: [Double], text: String?) {
        guard predictor != nil else { return }
        predictor!.predict(dense: dense, text: text, into: &output)
    }

    /// The online scaler's raw moments (synced across workers); empty without one.
    public var scalerMoments: [Double] {
        if case .online(let s) = scaling { return s.moments }
        return []
    }

    public mutating func setScalerMoments(_ m: [Double]) {
        guard case .online(var s) = scaling else { return }
        scaling = .none
        s.setMoments(m)
        scaling = .online(s)
    }

    /// The predicted class (multiclass: most probable; binary: p > 0.5); regression: 0.
    public var predictedClass: Int { Self.predictedClass(model.kind, output) }

    /// The one number a prediction record carries as `score`: P(y=1), ŷ, or the probability
    /// of the predicted class.
    public var score: Double { Self.score(model.kind, output) }

    /// `predictedClass` and `score` from the two stored fields they read: the worker calls
    /// these per record with the fields read in place, where calling the getters on a model
    /// in its array copied the whole model first.
    @inlinable
    public static func predictedClass(_ kind: ModelKind, _ output: [Double]) -> Int {
        switch kind {
        case .logisticRegression: return output[0] > 0.5 ? 1 : 0
        case .linearRegression: return 0
        case .softmaxRegression:
            var best = 0
            for k in output.indices where output[k] > output[best] { best = k }
            return best
        }
    }

    @inlinable
    public static func score(_ kind: ModelKind, _ output: [Double]) -> Double {
        kind == .softmaxRegression ? output[predictedClass(kind, output)] : output[0]
    }

    public mutating func predict(_ x: [Double], sparse: SparseInput = .empty) {
        switch scaling {
        case .none:
            model.predict(x, sparse: sparse, into: &output)
        case .online(let s):
            s.transform(x, into: &scratch)
            model.predict(scratch, sparse: sparse, into: &output)
        case .fixed(let mean, let scale):
            for i in x.indices { scratch[i] = scale[i] != 0 ? (x[i] - mean[i]) / scale[i] : x[i] - mean[i] }
            model.predict(scratch, sparse: sparse, into: &output)
        }
    }

    /// Progressive validation step: predict (into `output`), then learn if labelled.
    public mutating func predictThenLearn(_ x: [Double], sparse: SparseInput = .empty, label: Double?) {
        predict(x, sparse: sparse)
        guard learns, let label else { return }
        switch scaling {
        case .none:
            model.learn(x, sparse: sparse, label: label, predicted: output)
        case .fixed:
            model.learn(scratch, sparse: sparse, label: label, predicted: output)
        case .online:
            learnScalingOnline(x, sparse: sparse, label: label)
        }
    }

    /// The online scaler moves with this event, so the training input differs from the one
    /// predicted on (River's order): the model scores it again and learns from that.
    private mutating func learnScalingOnline(_ x: [Double], sparse: SparseInput, label: Double) {
        guard case .online(var s) = scaling else { return }
        scaling = .none
        s.learn(x)
        s.transform(x, into: &scratch)
        scaling = .online(s)
        model.predict(scratch, sparse: sparse, into: &retrained)
        model.learn(scratch, sparse: sparse, label: label, predicted: retrained)
    }

    /// Learns from an input served earlier, whose label came later (`[labels]`): the learning
    /// half of `predictThenLearn`, as River's `learn_one(x, y)` at the moment the label is
    /// revealed (the scaler takes the input now, and the gradient uses the current weights).
    /// `output` (the latest prediction) is left as it is.
    public mutating func learn(_ x: [Double], sparse: SparseInput = .empty, label: Double) {
        guard learns else { return }
        switch scaling {
        case .none:
            model.predict(x, sparse: sparse, into: &retrained)
            model.learn(x, sparse: sparse, label: label, predicted: retrained)
        case .fixed(let mean, let scale):
            for i in x.indices { scratch[i] = scale[i] != 0 ? (x[i] - mean[i]) / scale[i] : x[i] - mean[i] }
            model.predict(scratch, sparse: sparse, into: &retrained)
            model.learn(scratch, sparse: sparse, label: label, predicted: retrained)
        case .online:
            learnScalingOnline(x, sparse: sparse, label: label)
        }
    }
}
