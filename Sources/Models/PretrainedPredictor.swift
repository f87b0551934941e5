#if canImport(Glibc)
import Glibc
#endif

/// A `PretrainedPipeline` ready to score: its features located in the cluster's dense
/// features, its text field among the `[[features.text]]` fields, the vocabulary and the
/// linear weights laid out for lookups, and every buffer a record needs kept between
/// records (no allocation per record, but for long n-grams of a vocabulary).
public struct PretrainedPredictor: Sendable, Equatable {
    public let pipeline: PretrainedPipeline
    /// Per pipeline feature: its index in the cluster's dense features.
    let denseIndices: [Int]
    /// Index of the text field in `FeatureSpec.text`, if the pipeline reads text.
    public let textField: Int?
    let vectorizer: CompiledVectorizer?
    let linearWeights: [Double]
    let trees: CompiledTrees?
    var x: [Double]
    var row = TextRow()
    var raw: [Double]
    var layers: [[Double]]

    public static func == (a: PretrainedPredictor, b: PretrainedPredictor) -> Bool { a.pipeline == b.pipeline }

    /// `pipeline` must have passed `problem(...)` against the same names.
    public init(_ pipeline: PretrainedPipeline, denseNames: [String], textFields: [String]) {
        self.pipeline = pipeline
        denseIndices = pipeline.features.map { denseNames.firstIndex(of: $0) ?? 0 }
        textField = pipeline.text.flatMap { t in textFields.firstIndex(of: t.field) }
        vectorizer = pipeline.compiled.vectorizer
        linearWeights = pipeline.compiled.linearWeights
        trees = pipeline.compiled.trees
        x = .init(repeating: 0, count: pipeline.features.count)
        switch pipeline.estimator {
        case .linear(let e):
            raw = .init(repeating: 0, count: e.rows)
            layers = []
        case .mlp(let n):
            layers = n.layers.map { [Double](repeating: 0, count: $0.outputs) }
            raw = .init(repeating: 0, count: n.layers.last?.outputs ?? 1)
        case .trees(let t):
            raw = .init(repeating: 0, count: t.outputs)
            layers = []
        }
    }

    /// Scores one record: `dense` are the cluster's dense features, `text` the text field's
    /// value (nil: absent). `out` gets the model's output as an `OnlineModel`'s: [P(y=1)],
    /// the class probabilities, or [ŷ].
    public mutating func predict(dense: [Double], text: String?, into out: inout [Double]) {
        let d = x.count
        for (k, j) in denseIndices.enumerated() { x[k] = dense[j] }
        if let s = pipeline.scaler {
            // scikit-learn's StandardScaler: a zero scale is treated as 1.
            for k in 0..<d { x[k] = (x[k] - s.mean[k]) / (s.scale[k] == 0 ? 1 : s.scale[k]) }
        }
        if let v = vectorizer { v.transform(text ?? "", into: &row) }
        switch pipeline.estimator {
        case .linear(let e):
            let w = pipeline.width
            for r in 0..<raw.count {
                var z = 0.0
                let o = r * w
                for k in 0..<d { z += x[k] * linearWeights[o + k] }
                for (c, v) in zip(row.indices, row.values) { z += v * linearWeights[o + d + c] }
                raw[r] = z + e.intercept[r]
            }
        case .mlp(let n):
            for (l, layer) in n.layers.enumerated() {
                let m = layer.outputs
                for j in 0..<m { layers[l][j] = layer.bias[j] }
                if l == 0 {
                    for k in 0..<d where x[k] != 0 {
                        let xi = x[k], o = k * m
                        for j in 0..<m { layers[0][j] += xi * layer.weights[o + j] }
                    }
                    for (c, v) in zip(row.indices, row.values) {
                        let o = (d + c) * m
                        for j in 0..<m { layers[0][j] += v * layer.weights[o + j] }
                    }
                } else {
                    for i in 0..<layer.inputs {
                        let hi = layers[l - 1][i], o = i * m
                        for j in 0..<m { layers[l][j] += hi * layer.weights[o + j] }
                    }
                }
                if l < n.layers.count - 1 {
                    switch n.activation {
                    case .relu: for j in 0..<m where layers[l][j] < 0 { layers[l][j] = 0 }
                    case .tanh: for j in 0..<m { layers[l][j] = tanh(layers[l][j]) }
                    case .logistic: for j in 0..<m { layers[l][j] = Self.expit(layers[l][j]) }
                    case .identity: break
                    }
                }
            }
            for j in raw.indices { raw[j] = layers[layers.count - 1][j] }
        case .trees:
            x.withUnsafeBufferPointer { x in
                row.indices.withUnsafeBufferPointer { indices in
                    row.values.withUnsafeBufferPointer { values in trees!.evaluate(x, indices: indices, values: values, into: &raw) }
                }
            }
        }
        Self.link(pipeline.estimator.link, task: pipeline.task, raw, into: &out)
    }

    /// scipy's expit.
    @inline(__always) static func expit(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

    /// The value of column `c` in a sorted sparse row (0 when absent).
    @inline(__always) static func lookup(_ indices: UnsafeBufferPointer<Int>, _ values: UnsafeBufferPointer<Double>, _ c: Int) -> Double {
        var lo = 0, hi = indices.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if indices[mid] < c { lo = mid + 1 } else { hi = mid }
        }
        return lo < indices.count && indices[lo] == c ? values[lo] : 0
    }

    static func link(_ link: PretrainedEstimator.Link, task: String, _ raw: [Double], into out: inout [Double]) {
        let binary = task == "binary"
        switch link {
        case .logistic:
            if binary { out[0] = expit(raw[0]) } else { for k in raw.indices { out[k] = expit(raw[k]) } }
        case .softmax:
            // scikit-learn's: shifted by the maximum, then normalised.
            var m = -Double.infinity
            for v in raw where v > m { m = v }
            var s = 0.0
            var p0 = 0.0, p1 = 0.0
            for k in raw.indices {
                let e = exp(raw[k] - m)
                s += e
                if binary { if k == 0 { p0 = e } else { p1 = e } } else { out[k] = e }
            }
            if binary { _ = p0; out[0] = p1 / s } else { for k in raw.indices { out[k] /= s } }
        case .ovr:
            var s = 0.0
            for v in raw { s += expit(v) }
            if binary { out[0] = expit(raw[1]) / s } else { for k in raw.indices { out[k] = expit(raw[k]) / s } }
        case .proba:
            if binary { out[0] = raw[1] } else { for k in raw.indices { out[k] = raw[k] } }
        case .identity: out[0] = raw[0]
        case .exp: out[0] = exp(raw[0])
        }
    }
}
