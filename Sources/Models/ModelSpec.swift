/// The online model every worker runs.
public struct ModelSpec: Sendable, Codable, Equatable {
    public var type = ModelKind.logisticRegression
    /// Softmax regression: the class names. A label is a name from this list or its index.
    public var classes: [String] = []
    public var optimizer = OptimizerSpec()
    public var l1 = 0.0
    public var l2 = 0.0
    public var clipGradient = 1e12
    /// `[model] intercept` (nil = true): whether the intercepts learn. Optional, as is
    /// `interceptLR`, so that specs in older checkpoints still decode.
    public var intercept: Bool?
    /// `[model] intercept_lr`: the intercepts' own constant learning rate (plain SGD), as
    /// River's `intercept_lr`; nil = the weights' optimizer.
    public var interceptLR: Double?
    /// `[model] clip_sigma`: winsorise scaled inputs at this many standard deviations of the
    /// running moments (`StandardScaler`); 0 = off; nil = `defaultClipSigma`.
    public var clipSigma: Double?
    public static let defaultClipSigma = 30.0
    /// Online standard scaling of the inputs (River's StandardScaler).
    public var standardize = true
    /// "learn" (predict, then learn from labels) or "inference" (predict only, with the
    /// weights of `weights_file`).
    public var mode = "learn"
    /// Pre-trained weights (docs/CONFIG.md, "Pre-trained weights"): required for inference,
    /// a warm start for learning. Read when the config is loaded; travels in `pretrained`.
    public var weightsFile = ""
    public var pretrained: PretrainedModel?
    /// A pre-trained model of format `tributary.model/2` (text pipelines, neural networks,
    /// tree ensembles): served as it is, never learning; `type` names its task.
    public var pipeline: PretrainedPipeline?
    /// Rolling-window metrics cover this many labelled predictions per worker.
    public var metricsWindow = 1000
    /// "page_hinkley" on the running loss, or "off".
    public var driftDetector = "page_hinkley"
    public var driftThreshold = 50.0
    public var driftDelta = 0.005
    public var driftMinInstances = 30
    /// Workers send weight deltas this often; the coordinator averages them. 0 = off.
    public var syncIntervalMs = 1000
    /// `[model] sync_every_samples`: a worker also sends its delta once it has learnt this
    /// many labelled samples (and has none in flight), and the coordinator merges whatever
    /// is pending without waiting for the interval. nil or 0 = by time only. Optional (as the
    /// two below) so that specs in older checkpoints still decode.
    public var syncEverySamples: Int?
    /// How deltas are combined: "average" (sample-weighted) or "sum" (docs/ARCHITECTURE.md).
    public var mergeRule = MergeRule.average
    /// `[model] server_learning_rate` and `server_momentum`: the coordinator's step after the
    /// merge (`ServerStep`); nil = 1 and 0 (the merged parameters as they are).
    public var serverLearningRate: Double?
    public var serverMomentum: Double?
    /// `[model] reference_sample`: the share of keys (by a stable key hash) whose labelled
    /// inputs workers send with their deltas, for the coordinator's single-learner reference
    /// model (the N-vs-1 monitor); nil or 0 = off. `reference_warn`: the progressive-loss gap,
    /// cluster minus reference, that warns (nil = `defaultReferenceWarn`).
    public var referenceSample: Double?
    public var referenceWarn: Double?
    public static let defaultReferenceWarn = 0.05
    public var serverStep: ServerStep { ServerStep(learningRate: serverLearningRate ?? 1, momentum: serverMomentum ?? 0) }
    /// How dense deltas travel (`DeltaCompression`); nil (specs in older checkpoints) = none.
    public var deltaCompression: DeltaCompression?
    /// How a global version's weights travel to workers that hold the one before
    /// (`VersionBroadcast`): exact changed coordinates when few changed, else compressed
    /// differences with this; nil = none (exact, whole when most changed).
    public var versionCompression: DeltaCompression?
    /// Also write each global version to this file (binary, atomically); "" = Kafka topic only.
    public var checkpointFile = ""
    /// The model topic keeps this many newest versions (snapshot slots reused in a ring), so
    /// a compacted topic stays bounded; rollback reaches any of them.
    public var keepVersions = 50
    /// Outlying deltas: "clip" (scale to robust_factor x the median norm), "reject", "off".
    public var robustAveraging = "clip"
    public var robustFactor = 3.0

    public init() {}

    public var learns: Bool { mode == "learn" && pipeline == nil }
    public var outputs: Int { type == .softmaxRegression ? classes.count : 1 }

    /// Parameters of the model over `inputs` features (weights, then intercepts).
    public func parameterCount(inputs: Int) -> Int {
        pipeline != nil ? 0 : LinearModel.parameterCount(kind: type, inputs: inputs, classes: classes.count)
    }

    /// A fresh model as configured (before any global version or pre-trained weights).
    /// - denseNames, textFields: the cluster's dense features and text fields, which a
    ///   pre-trained pipeline finds its inputs among.
    public func makeModel(dense: Int, hashed: Int, denseNames: [String] = [], textFields: [String] = []) -> OnlineModel {
        let linear = LinearModel(kind: type, inputs: pipeline != nil ? 0 : dense + hashed, classes: classes.count, optimizer: optimizer,
                                 l1: l1, l2: l2, clipGradient: clipGradient, fitIntercept: intercept ?? true, interceptLR: interceptLR)
        var scaling: OnlineModel.Scaling = standardize && learns
            ? .online(StandardScaler(width: dense, clipSigma: clipSigma ?? Self.defaultClipSigma)) : .none
        if let s = pretrained?.scaler { scaling = .fixed(mean: s.mean, scale: s.scale) }
        var m = OnlineModel(model: linear, dense: dense, scaling: scaling, learns: learns)
        if let p = pretrained { m.model.setParameters(p.parameters) }
        if let p = pipeline { m.predictor = PretrainedPredictor(p, denseNames: denseNames, textFields: textFields) }
        return m
    }

    public func makeEvaluation() -> Evaluation {
        Evaluation(task: type.task, classes: classes.count, windowSize: metricsWindow,
                   drift: driftDetector == "off" ? nil
                       : PageHinkley(minInstances: driftMinInstances, delta: driftDelta, threshold: driftThreshold))
    }
}
