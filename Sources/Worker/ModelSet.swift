import Config
import Features
import Models
import Wire

/// The models one worker runs (issue 11): the champion, whose predictions go to the output
/// topic, and challengers scored on the same records (shadow), each with its own inputs,
/// scaler and progressive metrics. Pure value type: no I/O, tested directly.
///
/// For syncing, the set is one parameter vector (`ModelGeometry`): every model's weights in
/// layout order, and every model's scaler moments in one [counts | Σx | Σx²] block, so the
/// delta, averaging and checkpoint code does not know there are several.
public struct ModelSet: Sendable {
    public private(set) var layout: ModelLayout
    public let geometry: ModelGeometry
    public private(set) var models: [OnlineModel]
    /// Per model (only kept with more than one model: one model's is the worker's own).
    public private(set) var evaluations: [Evaluation]
    /// Predictions per model written to the output topic.
    public private(set) var served: [Int64]
    public private(set) var champion: Int
    /// A/B: challengers by cumulative share of the key hash space, [0, 1).
    private var split: [(below: Double, model: Int)] = []
    /// Dense inputs of models that read a subset, and remapped hashed indices.
    private var inputs: [[Double]]
    private var sparseIndices: [[Int]]
    /// `on_bad_value = "missing"`: dense features may be NaN; online models read them as 0.
    private let zeroMissing: Bool
    /// Which models are pre-trained pipelines, asked per record without reading the model:
    /// `models[i].predictor` copied the whole `OnlineModel` out of the array first (perf:
    /// ~2 % of the per-record work in memcpy).
    private let pretrained: [Bool]
    private var zeroed: [Double] = []
    /// `[model] reference_sample`: labelled champion inputs kept for the coordinator's
    /// reference model, sent (and emptied) with the next delta; at most
    /// `ReferenceSample.perDelta` wait, the rest are counted in `referenceDropped`.
    public let referenceShare: Double
    public private(set) var referenceSamples: [ReferenceSample] = []
    public private(set) var referenceDropped = 0
    /// Delayed labels carry no key: every (1 / share)-th of them is kept instead.
    private var referenceStride = 0.0

    /// - previous: a model in both keeps what it learnt (scaler, optimizer state), so a
    ///   deploy or retire does not restart the others.
    public init(layout: ModelLayout, features: FeatureSpec, previous: ModelSet? = nil) {
        self.layout = layout
        geometry = ModelGeometry(layout, features: features)
        var models: [OnlineModel] = []
        var evaluations: [Evaluation] = []
        var served: [Int64] = []
        for (i, m) in layout.models.enumerated() {
            let part = geometry.parts[i]
            if let prev = previous, let j = prev.layout.models.firstIndex(where: { $0.sameModel(as: m) }) {
                models.append(prev.models[j])
                evaluations.append(prev.evaluations[j])
                served.append(prev.served[j])
            } else {
                models.append(m.spec.makeModel(dense: part.dense, hashed: part.hashed, denseNames: features.denseNames,
                                               textFields: features.text.map(\.field)))
                evaluations.append(m.spec.makeEvaluation())
                served.append(0)
            }
        }
        self.models = models
        pretrained = models.map { $0.predictor != nil }
        self.evaluations = evaluations
        self.served = served
        inputs = geometry.parts.map { [Double](repeating: 0, count: $0.denseIndices == nil ? 0 : $0.dense) }
        zeroMissing = features.onBadValue == .missing
        // Only [model] may set it (a challenger's table refuses the key): the cluster's share,
        // whichever model is champion now.
        referenceShare = layout.models[layout.championIndex].spec.learns ? layout.models.compactMap(\.spec.referenceSample).max() ?? 0 : 0
        referenceSamples = previous?.referenceSamples ?? []
        readsEvents = layout.models.contains { $0.spec.pipeline != nil }
        sparseIndices = geometry.parts.map { _ in [] }
        champion = layout.championIndex
        adopt(champion: layout)
    }

    /// A new champion or A/B shares, same models (takes effect for the next record).
    public mutating func adopt(champion l: ModelLayout) {
        guard l.sameModels(as: layout) else { return }
        layout = l
        champion = l.championIndex
        var edge = 0.0
        split = []
        for (i, m) in l.models.enumerated() where i != champion && m.abShare > 0 {
            edge += m.abShare
            split.append((min(edge, 1), i))
        }
    }

    public var learns: Bool { models.contains { $0.learns } }
    /// Whether a model is a pre-trained pipeline (which reads the event's text itself); kept,
    /// as it is asked for every record.
    public private(set) var readsEvents = false
    public var championModel: OnlineModel { models[champion] }

    /// Every model's weights, in layout order.
    public var parameters: [Double] {
        if models.count == 1 { return models[0].parameters }
        var out: [Double] = []
        out.reserveCapacity(geometry.parameterCount)
        for m in models { out += m.parameters }
        return out
    }

    public mutating func setParameters(_ p: [Double]) {
        guard p.count == geometry.parameterCount else { return }
        for i in models.indices { models[i].setParameters(Array(geometry.parameters(p, of: i))) }
    }

    /// Every online scaler's raw moments, in the cluster layout.
    public var scalerMoments: [Double] {
        if models.count == 1 { return models[0].scalerMoments }
        return geometry.joinScaler(models.map(\.scalerMoments))
    }

    public mutating func setScalerMoments(_ m: [Double]) {
        guard m.count == 3 * geometry.scalerWidth else { return }
        if models.count == 1 { models[0].setScalerMoments(m); return }
        for i in models.indices where geometry.parts[i].scalerWidth > 0 {
            models[i].setScalerMoments(geometry.scaler(m, of: i))
        }
    }

    /// Which model's prediction the output topic gets for `key`: a stable hash of the key
    /// picks the A/B challenger, else the champion. The same key always lands on the same
    /// model while the layout is unchanged.
    public func route(key: String) -> Int {
        guard !split.isEmpty else { return champion }
        let u = Self.unitHash(key)
        for s in split where u < s.below { return s.model }
        return champion
    }

    /// FNV-1a over the key's bytes, finalised (SplitMix64), as a number in [0, 1): the same on
    /// every worker and every run.
    public static func unitHash(_ key: String) -> Double {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        var k = key
        k.withUTF8 { for b in $0 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 } }
        h ^= h >> 30; h = h &* 0xbf58_476d_1ce4_e5b9
        h ^= h >> 27; h = h &* 0x94d0_49bb_1331_11eb
        h ^= h >> 31
        return Double(h >> 11) / Double(UInt64(1) << 53)
    }

    /// Predict, then learn if labelled, with every model; each sees its own inputs (`input`).
    /// A pre-trained pipeline reads the dense features it names and its text field, whose
    /// value is `event.texts[textSlots[k]]` for `[[features.text]]` field k.
    public mutating func score(_ dense: [Double], sparse: SparseInput, label: Double?,
                               event: ParsedEvent? = nil, textSlots: [Int] = []) {
        for i in models.indices {
            if pretrained[i] {
                var text: String?
                if let e = event, let f = models[i].predictor!.textField, f < textSlots.count, e.textStatus[textSlots[f]] == .present {
                    text = e.texts[textSlots[f]]
                }
                models[i].predictPretrained(dense: dense, text: text)
                continue
            }
            let (x, sp) = zeroMissing ? input(i, zeroingMissing(dense), sparse) : input(i, dense, sparse)
            models[i].predictThenLearn(x, sparse: sp, label: label)
        }
    }

    /// Every model learns from an input served earlier (a label that came later): the same
    /// per-model inputs `score` gives them.
    public mutating func learn(_ dense: [Double], sparse: SparseInput, label: Double) {
        for i in models.indices {
            let (x, sp) = zeroMissing ? input(i, zeroingMissing(dense), sparse) : input(i, dense, sparse)
            models[i].learn(x, sparse: sp, label: label)
        }
    }

    /// Keeps the champion's input of this labelled record for the reference model when its
    /// key is in the sample; `output`: the champion's prediction of it (before learning).
    public mutating func sampleReference(key: String?, dense: [Double], sparse: SparseInput, label: Double, output: [Double]) {
        guard referenceShare > 0, !pretrained[champion] else { return }
        if let key {
            guard Self.unitHash(key) < referenceShare else { return }
        } else {
            referenceStride += referenceShare
            guard referenceStride >= 1 else { return }
            referenceStride -= 1
        }
        guard referenceSamples.count < ReferenceSample.perDelta else {
            referenceDropped += 1
            return
        }
        let (x, sp) = zeroMissing ? input(champion, zeroingMissing(dense), sparse) : input(champion, dense, sparse)
        guard label.isFinite, x.allSatisfy(\.isFinite), sp.values.allSatisfy(\.isFinite), output.allSatisfy(\.isFinite) else { return }
        referenceSamples.append(ReferenceSample(dense: x, indices: sp.indices.map { UInt32($0) }, values: sp.values,
                                                label: label, output: output))
    }

    /// The samples for the next delta and how many were dropped since the last (both reset).
    public mutating func takeReference() -> (samples: [ReferenceSample]?, dropped: Int?) {
        defer {
            referenceSamples.removeAll(keepingCapacity: true)
            referenceDropped = 0
        }
        return (referenceSamples.isEmpty ? nil : referenceSamples, referenceDropped > 0 ? referenceDropped : nil)
    }

    /// `dense` with its missing (NaN) features as 0, in a reused buffer.
    private mutating func zeroingMissing(_ dense: [Double]) -> [Double] {
        if zeroed.count != dense.count { zeroed = dense }
        for j in dense.indices { zeroed[j] = dense[j].isNaN ? 0 : dense[j] }
        return zeroed
    }

    /// Model `i`'s inputs: the pipeline's dense features, gathered, and the hashed ones
    /// shifted after them (into this set's reused buffers).
    private mutating func input(_ i: Int, _ dense: [Double], _ sparse: SparseInput) -> ([Double], SparseInput) {
        let part = geometry.parts[i]
        let pipelineDense = dense.count
        let sp: SparseInput
        if part.hashed == 0 {
            sp = .empty
        } else if part.dense == pipelineDense {
            sp = sparse
        } else {
            // Hashed indices follow the dense inputs: shift them to this model's.
            sparseIndices[i].removeAll(keepingCapacity: true)
            for j in sparse.indices { sparseIndices[i].append(j - pipelineDense + part.dense) }
            sp = SparseInput(indices: sparseIndices[i], values: sparse.values)
        }
        guard let idx = part.denseIndices else { return (dense, sp) }
        for (k, j) in idx.enumerated() { inputs[i][k] = dense[j] }
        return (inputs[i], sp)
    }

    /// Every model's latest prediction, kept with a served input until its label comes.
    public var outputs: [[Double]] { models.map(\.output) }

    /// Every model's latest prediction appended to `values` (one buffer per snapshot).
    /// How many numbers `appendOutputs` appends.
    public var outputCount: Int { models.reduce(0) { $0 + $1.output.count } }

    public func appendOutputs(to values: inout [Double]) {
        for m in models { values.append(contentsOf: m.output) }
    }

    /// The observation model `i` made with `output` (kept from when it was served), now that
    /// its label `y` is known; every model's own metrics too (several models).
    public mutating func observeLater(_ outputs: [[Double]], served: Int, label y: Double) -> Observation {
        func observation(_ i: Int) -> Observation { models[i].model.kind.observation(outputs[i], label: y) }
        if models.count > 1 { for i in models.indices { _ = evaluations[i].observe(observation(i)) } }
        return observation(served)
    }

    /// The progressive-validation observation of model `i`'s latest prediction.
    /// (Read through `models[i]` in place: `let m = models[i]` copied the whole model, with a
    /// retain per array in it, on every labelled record: ~1 % of the pipeline's samples.)
    public func observation(of i: Int, label y: Double) -> Observation {
        models[i].model.kind.observation(models[i].output, label: y)
    }

    /// Records every model's labelled prediction in its own metrics (several models only).
    public mutating func observeAll(label y: Double) {
        guard models.count > 1 else { return }
        for i in models.indices { _ = evaluations[i].observe(observation(of: i, label: y)) }
    }

    public mutating func countServed(_ i: Int) { served[i] += 1 }

    public var reports: [ModelReport] {
        guard models.count > 1 else { return [] }
        return models.indices.map { ModelReport(name: layout.models[$0].name, evaluation: evaluations[$0].report, served: served[$0]) }
    }
}

extension ModelSet {
    /// The set after global version `u`: local progress rebased on it (`session`), or the
    /// version taken exactly (import, rollback, deploy, retire: a rollback that kept local
    /// progress would keep what was rolled back), then the champion or A/B shares its layout
    /// names. Returns what changed for the log; throws why the version cannot run here.
    public mutating func adopt(_ u: ModelUpdate, features: FeatureSpec, session: inout WorkerSession,
                               worker: String) throws(ModelAdoptError) -> [String] {
        var m = self
        var notes: [String] = []
        let relayout = u.layout.map { !$0.sameModels(as: m.layout) } ?? false
        if let l = u.layout, relayout {
            if let why = l.problem(with: features) { throw ModelAdoptError("its models cannot run here: \(why)") }
            m = ModelSet(layout: l, features: features, previous: m)
            // The cluster's scaler for every model: a deployed model may come warm (replay),
            // its weights fitted to inputs scaled by those moments.
            if u.scaler.count == 3 * m.geometry.scalerWidth { m.setScalerMoments(u.scaler) }
        }
        guard u.parameters.count == m.geometry.parameterCount else {
            throw ModelAdoptError("\(u.parameters.count) parameters, the models here have \(m.geometry.parameterCount)")
        }
        if u.reset || relayout {
            m.setParameters(u.parameters)
            session.resetSync(version: u.version, base: u.parameters + m.scalerMoments)
            notes.append("global model reset to version \(u.version)\(relayout ? "; models now \(m.layout.models.map(\.name))" : "")")
        } else {
            let local = session.rebase(parameters: m.parameters, scalerMoments: m.scalerMoments, onto: u, worker: worker)
            m.setParameters(local.parameters)
            if !local.scalerMoments.isEmpty { m.setScalerMoments(local.scalerMoments) }
        }
        if let l = u.layout, l != m.layout {
            let before = m.layout.champion
            m.adopt(champion: l)
            if before != m.layout.champion { notes.append("model \(m.layout.champion) is the champion from version \(u.version) on (was \(before))") }
        }
        self = m
        return notes
    }
}
