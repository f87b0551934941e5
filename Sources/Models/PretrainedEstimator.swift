/// The estimator of a `PretrainedPipeline`, by its `kind`.
public enum PretrainedEstimator: Sendable, Codable, Equatable {
    case linear(LinearEstimator)
    case mlp(NeuralNetwork)
    case trees(TreeEnsemble)

    /// How the raw outputs become the prediction.
    public enum Link: String, Sendable, Codable {
        /// σ(raw) (binary: one raw output).
        case logistic
        case softmax
        /// One-vs-rest: σ(raw_k) normalised to sum 1 (scikit-learn's `_predict_proba_lr`).
        case ovr
        /// The raw outputs are probabilities already (a forest's averaged leaves).
        case proba
        case identity
        /// exp(raw): regression with a log link (Poisson, gamma).
        case exp
    }

    enum CodingKeys: String, CodingKey { case kind }

    public init(from decoder: Decoder) throws {
        let kind = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .kind)
        switch kind {
        case "linear": self = .linear(try LinearEstimator(from: decoder))
        case "mlp": self = .mlp(try NeuralNetwork(from: decoder))
        case "trees": self = .trees(try TreeEnsemble(from: decoder))
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.kind],
                                                    debugDescription: "'estimator.kind' is \"\(kind)\", expected linear, mlp or trees"))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .linear(let e): try c.encode("linear", forKey: .kind); try e.encode(to: encoder)
        case .mlp(let e): try c.encode("mlp", forKey: .kind); try e.encode(to: encoder)
        case .trees(let e): try c.encode("trees", forKey: .kind); try e.encode(to: encoder)
        }
    }

    public var link: Link {
        switch self {
        case .linear(let e): e.link
        case .mlp(let e): e.link
        case .trees(let e): e.link
        }
    }

    public var kindName: String {
        switch self {
        case .linear: "linear"
        case .mlp: "mlp"
        case .trees: "trees"
        }
    }

    /// Why the estimator does not fit `width` input columns and a raw output of one of
    /// `outputs` sizes, or nil.
    func problem(width: Int, outputs: Set<Int>) -> String? {
        switch self {
        case .linear(let e): e.problem(width: width, outputs: outputs)
        case .mlp(let e): e.problem(width: width, outputs: outputs)
        case .trees(let e): e.problem(width: width, outputs: outputs)
        }
    }
}
