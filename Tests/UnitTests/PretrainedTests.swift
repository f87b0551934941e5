import Foundation
import Testing
import Config
import Features
import Models

/// Issue 26's pure parts: scikit-learn's hashing and word analyzer, reproduced; a weights
/// file that does not fit is refused with the field named. (The predictions of every
/// exported estimator are compared with scikit-learn's in the live cluster:
/// IntegrationTests/PretrainedModelTests.)
@Suite("Pre-trained models")
struct PretrainedTests {
    @Test("MurmurHash3 x86_32 equals sklearn.utils.murmurhash3_32 (seed 0)")
    func murmur() {
        // Values printed by scikit-learn 1.9.1.
        let known: [(String, Int32)] = [("foo", -156_908_512), ("", 0), ("a", 1_009_084_850), ("ab", -1_681_926_305),
                                        ("abc", -1_277_324_294), ("abcd", 1_139_631_978), ("hello world", 1_586_663_183),
                                        ("東京", -1_765_863_102), ("über café 🔥", 1_540_594_898)]
        for (s, h) in known { #expect(MurmurHash3.x86_32(s) == h, "\(s)") }
    }

    @Test("HashingVectorizer(n_features=16, ngram_range=(1, 2), norm=None): scikit-learn's columns and signed counts, Unicode words and lower-casing included")
    func hashingVectorizer() {
        let v = CompiledVectorizer(TextVectorizer(field: "text", kind: .hashing, ngramRange: [1, 2], nFeatures: 16, norm: nil))
        var row = TextRow()
        v.transform("Hello, WORLD! a b_c über-Café 東京 x2 ½½ İstanbul", into: &row)
        // scikit-learn's analyzer gives: hello world b_c über café 東京 x2 ½½ stanbul (İ lowers to
        // i + a combining dot, which is no word character), then the 8 bigrams.
        #expect(row.indices == [0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 14, 15])
        #expect(row.values == [3.0, 1.0, 1.0, 1.0, -1.0, -1.0, 2.0, 1.0, 1.0, 1.0, -2.0, -1.0, 1.0])
        // l2 (the default): the same vector over its norm.
        let l2 = CompiledVectorizer(TextVectorizer(field: "text", kind: .hashing, ngramRange: [1, 2], nFeatures: 16))
        var r2 = TextRow()
        l2.transform("Hello, WORLD! a b_c über-Café 東京 x2 ½½ İstanbul", into: &r2)
        let norm = row.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(zip(r2.values, row.values).allSatisfy { abs($0 - $1 / norm) < 1e-15 })
    }

    @Test("a vocabulary vectorizer counts known terms only; tf-idf with sublinear tf and l2")
    func vocabulary() {
        let spec = TextVectorizer(field: "text", kind: .vocabulary, ngramRange: [1, 1], stopWords: ["the"], norm: "l2",
                                  vocabulary: ["fire", "flood", "the"], idf: [2.0, 3.0, 1.0], sublinearTf: true)
        var row = TextRow()
        CompiledVectorizer(spec).transform("The fire, the FIRE and the flood", into: &row)
        // fire: (log 2 + 1) * 2, flood: 1 * 3; "the" is a stop word, "and" is not in the vocabulary.
        let a = (log(2.0) + 1) * 2, b = 3.0, n = (a * a + b * b).squareRoot()
        #expect(row.indices == [0, 1])
        #expect(abs(row.values[0] - a / n) < 1e-15 && abs(row.values[1] - b / n) < 1e-15)
    }

    static let features: FeatureSpec = {
        var f = FeatureSpec()
        f.numeric = ["a", "b"]
        f.aggregates = []
        f.text = [.init(field: "text")]
        return f
    }()

    static let forest = """
        {"format": "tributary.model/2", "task": "binary", "source": "RandomForestClassifier", "features": ["a", "b"],
         "estimator": {"kind": "trees", "combine": "average", "float32": true, "outputs": 2, "link": "proba",
           "trees": [{"output": -1, "feature": [0, 0, 0], "threshold": [0.5, 0, 0], "left": [1, -1, -1], "right": [2, -1, -1],
                      "missing_left": [1, 0, 0], "value": [0.5, 0.5, 0.9, 0.1, 0.2, 0.8]}]}}
        """

    func read(_ text: String, type: ModelKind = .logisticRegression) -> Result<WeightsFile, WeightsFileError> {
        Result { () throws(WeightsFileError) in try WeightsFile.read(Array(text.utf8), type: type, classes: [], features: Self.features) }
    }

    func refusal(_ text: String, type: ModelKind = .logisticRegression) -> String {
        if case .failure(let e) = read(text, type: type) { return e.description }
        return "accepted"
    }

    @Test("a forest scores as its leaves say, a missing value follows missing_left")
    func forestScores() throws {
        guard case .success(.pipeline(let p)) = read(Self.forest) else { Issue.record("refused: \(refusal(Self.forest))"); return }
        var m = ModelSpec()
        m.pipeline = p
        var model = m.makeModel(dense: 2, hashed: 0, denseNames: ["a", "b"], textFields: ["text"])
        for (x, want) in [(0.2, 0.1), (0.7, 0.8), (Double.nan, 0.1)] {
            model.predictPretrained(dense: [x, 0], text: nil)
            #expect(model.output == [want], "x = \(x)")
        }
        #expect(model.parameters.isEmpty && !model.learns && m.parameterCount(inputs: 2) == 0)
    }

    @Test("a file that does not fit is refused, naming what is wrong",
          arguments: [
            ("{\"format\": \"tributary.model/2\", \"task\": \"binary\"", "is not a Tributary weights file: not JSON"),
            (forest.replacingOccurrences(of: "\"left\": [1, -1, -1]", with: "\"left\": [7, -1, -1]"), "points to children 7 and 2, outside 1..<3"),
            (forest.replacingOccurrences(of: "\"left\": [1, -1, -1]", with: "\"left\": [0, -1, -1]"), "points to children 0 and 2"),
            (forest.replacingOccurrences(of: "\"feature\": [0, 0, 0]", with: "\"feature\": [5, 0, 0]"), "splits on column 5, outside 0..<2"),
            (forest.replacingOccurrences(of: "0.2, 0.8]", with: "0.2]"), "value has 5 values, expected 3 nodes × 2"),
            (forest.replacingOccurrences(of: "\"b\"]", with: "\"c\"]"), "'features'[1] \"c\" is not one of the cluster's dense features"),
            (forest.replacingOccurrences(of: "\"kind\": \"trees\"", with: "\"kind\": \"svm\""), "'estimator.kind' is \"svm\", expected linear, mlp or trees"),
            (forest.replacingOccurrences(of: "model/2", with: "model/9"), "'format' is \"tributary.model/9\""),
            ("""
             {"format": "tributary.model/2", "task": "binary", "features": ["a", "b"],
              "estimator": {"kind": "mlp", "activation": "relu", "link": "logistic",
                "layers": [{"inputs": 2, "outputs": 3, "weights": [1, 2, 3, 4, 5, 6], "bias": [0, 0, 0]},
                           {"inputs": 2, "outputs": 1, "weights": [1, 2], "bias": [0]}]}}
             """, "'estimator.layers'[1] has 2 inputs, expected 3 (the outputs of layer 0)"),
            ("""
             {"format": "tributary.model/2", "task": "binary", "features": ["a", "b"],
              "estimator": {"kind": "mlp", "activation": "relu", "link": "logistic",
                "layers": [{"inputs": 2, "outputs": 3, "weights": [1, 2, 3, 4, 5], "bias": [0, 0, 0]}]}}
             """, "'estimator.layers'[0].weights has 5 values, expected 2 × 3 = 6"),
            ("""
             {"format": "tributary.model/2", "task": "binary", "features": [],
              "text": {"field": "body", "kind": "hashing", "lowercase": true, "ngram_range": [1, 1], "n_features": 8, "binary": false, "norm": "l2"},
              "estimator": {"kind": "linear", "coef": [[0, 0, 0, 0, 0, 0, 0, 0]], "intercept": [0], "link": "logistic"}}
             """, "'text.field' \"body\" is not a text field of the cluster: add [[features.text]] field = \"body\""),
          ])
    func refused(file: String, message: String) {
        let why = refusal(file)
        #expect(why.contains(message), "\(why)")
    }

    @Test("a task that is not the model's type is refused")
    func wrongTask() {
        #expect(refusal(Self.forest, type: .linearRegression).contains("'task' is binary but model.type linear_regression is regression"))
    }

    @Test("cluster.conf: a served model must be in inference mode; its errors name model.weights_file")
    func config() throws {
        let path = NSTemporaryDirectory() + "forest-\(getpid()).json"
        try Self.forest.write(toFile: path, atomically: true, encoding: .utf8)
        let base = """
            [features]
            numeric = ["a", "b"]
            aggregates = []
            [[features.text]]
            field = "text"
            [model]
            weights_file = "\(path)"
            """
        #expect(throws: ConfigError.self) { try ClusterConfig.parse(base) }
        do { _ = try ClusterConfig.parse(base) } catch { #expect("\(error)".contains("served, not trained: set mode = \"inference\"")) }
        let c = try ClusterConfig.parse(base + "\nmode = \"inference\"")
        #expect(c.model.pipeline?.source == "RandomForestClassifier" && !c.model.learns)
    }
}
