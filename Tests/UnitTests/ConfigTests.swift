import Foundation
import Testing
@testable import Config

@Suite("cluster.conf")
struct ConfigTests {
    @Test("the shipped cluster.conf is valid and equals the defaults it documents")
    func shippedFile() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/UnitTests/ConfigTests.swift", with: "cluster.conf")
        let c = try ClusterConfig.load(path: path)
        #expect(c == ClusterConfig())
    }

    @Test("an empty file is a valid local cluster")
    func empty() throws {
        #expect(try ClusterConfig.parse("") == ClusterConfig())
    }

    @Test("values are read with their types")
    func values() throws {
        let c = try ClusterConfig.parse("""
        [kafka]
        bootstrap = "b1:9092,b2:9092"  # comment
        partitions = 8
        [kafka.consumer]
        "fetch.wait.max.ms" = 1
        [coordinator]
        bind = 'tcp://0.0.0.0:7400'
        [features]
        numeric = ["a.b", "c",
                   "d"]
        aggregates = [{ field = "c", stats = ["sum", "variance"] }]
        [model]
        learning_rate = 0.05
        standardize = false
        """)
        #expect(c.kafka.bootstrap == "b1:9092,b2:9092")
        #expect(c.kafka.partitions == 8)
        #expect(c.kafka.consumer["fetch.wait.max.ms"] == "1")
        #expect(c.coordinator.bind == "tcp://0.0.0.0:7400")
        #expect(c.features.numeric == ["a.b", "c", "d"])
        #expect(c.features.aggregates == [.init(field: "c", stats: [.sum, .variance])])
        #expect(c.model.optimizer.learningRate == 0.05)
        #expect(c.model.standardize == false)
    }

    // Golden messages: each class of bad configuration names the key, the line and what is expected.
    @Test("bad configuration gives an error naming key and line", arguments: [
        ("[kafka]\npartitons = 4", "line 2: 'kafka.partitons': unknown key (did you mean 'partitions'?)"),
        ("[kafka]\npartitions = \"four\"", "line 2: 'kafka.partitions': expected an integer, found string \"four\""),
        ("[kafka]\npartitions = 0", "line 2: 'kafka.partitions': 0 is too small (at least 1)"),
        ("[cluster]\nlog_level = \"loud\"", "line 2: 'cluster.log_level': 'loud' is not one of"),
        ("[coordinator]\nbind = \"localhost:7400\"", "line 2: 'coordinator.bind': 'localhost:7400' is not a ZeroMQ endpoint"),
        ("[coordinator]\nheartbeat_ms = 1000\nfailure_timeout_ms = 1500", "line 3: 'coordinator.failure_timeout_ms': 1500 must be at least twice heartbeat_ms"),
        ("[kafka]\noutput_topic = \"events\"", "line 2: 'kafka.output_topic': must differ from kafka.input_topic"),
        ("[features]\naggregates = [{ field = \"x\", stats = [\"median\"] }]", "line 2: 'features.aggregates[0].stats': 'median' is not one of"),
        ("[model]\nlearning_rate = true", "line 2: 'model.learning_rate': expected a number, found boolean true"),
        ("[model]\ntype = \"softmax_regression\"", "line 2: 'model.classes': softmax_regression needs the class names"),
        ("[model]\nclasses = [\"a\", \"b\"]", "line 2: 'model.classes': only softmax_regression has classes"),
        ("[model]\noptimizer = \"rmsprop\"", "line 2: 'model.optimizer': 'rmsprop' is not one of \"sgd\", \"adagrad\", \"adam\", \"ftrl\""),
        ("[model]\nmode = \"inference\"", "line 2: 'model.weights_file': is required with mode = \"inference\""),
        ("[model]\nweights_file = \"/nonexistent/w.json\"", "'model.weights_file': cannot read /nonexistent/w.json"),
        ("[kafka]\nguarantee = \"exactly_once\"", "line 2: 'kafka.guarantee': exactly_once needs a real broker"),
        ("[kafka]\nbootstrap = \"b:9092\"\nguarantee = \"exactly_once\"\n[features]\nrepartition = true",
         "line 5: 'features.repartition': cannot be combined with kafka.guarantee = \"exactly_once\""),
        ("[model]\nkeep_versions = 1", "line 2: 'model.keep_versions'"),
        ("[model]\ntype = \"linear_regression\"\n[labels]\ntopic = \"l\"\non_expired = \"learn_negative\"",
         "line 5: 'labels.on_expired': learn_negative needs a binary model"),
        ("[labels]\ntopic = \"l\"\nhorizon_s = 0", "line 3: 'labels.horizon_s'"),
        ("[labels]\ntopic = \"l\"\nlate_labels = \"keep\"", "line 3: 'labels.late_labels': 'keep' is not one of \"drop\", \"learn\""),
        ("[model]\nintercept = false\nintercept_lr = 0.1", "line 3: 'model.intercept_lr': has no effect with intercept = false"),
        ("[model]\nclip_sigma = -1", "line 2: 'model.clip_sigma'"),
        ("[model]\nsync_every_samples = -5", "line 2: 'model.sync_every_samples': -5 is too small (at least 0)"),
        ("[model]\nserver_momentum = 1", "line 2: 'model.server_momentum': 1"),
        ("[model]\nserver_learning_rate = 0", "line 2: 'model.server_learning_rate': 0"),
        ("[model]\nreference_sample = 1.5", "line 2: 'model.reference_sample': 1.5"),
        ("[kafka]\nguarantee = \"at_most_once\"", "line 2: 'kafka.guarantee': 'at_most_once' is not one of \"at_least_once\", \"exactly_once\""),
        ("[security]\ncurve = true", "line 2: 'security.secret_key_file': is required with curve = true"),
        ("[security]\ncurve = true\nsecret_key_file = \"c.key\"", "line 2: 'security.worker_keys': is empty"),
        ("[security]\nworker_keys = [\"abc\"]", "line 2: 'security.worker_keys[0]': 'abc' is not a CURVE public key"),
        ("[security]\ncurve = true\nsecret_key_file = \"/nonexistent/c.key\"\nworker_keys = [\"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7\"]", "'security.secret_key_file': cannot read /nonexistent/c.key"),
        ("[kafka]\nbootstrap = embedded", "line 2: 'embedded' is not a valid value (strings need quotes)"),
        ("[kafka\nx = 1", "line 1: expected ']' to close table header"),
        ("[kafka]\na = 1\na = 2", "line 3: 'kafka.a': set twice"),
        ("[nonsense]\nx = 1", "line 1: 'nonsense': unknown key"),
        ("x = \"\"\"multi\"\"\"", "line 1: multi-line strings are not supported"),
    ])
    func badConfig(text: String, expected: String) {
        do {
            _ = try ClusterConfig.parse(text)
            Issue.record("accepted bad config: \(text)")
        } catch {
            #expect(error.description.hasPrefix(expected), "got: \(error.description)")
        }
    }

    @Test("a weights file that does not fit the spec is refused, naming the field")
    func weightsFile() throws {
        let path = NSTemporaryDirectory() + "weights-\(getpid()).json"
        func check(_ json: String, _ expected: String) throws {
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try ClusterConfig.parse("[features]\nnumeric = [\"a\", \"b\"]\naggregates = []\n[model]\nweights_file = \"\(path)\"")
                Issue.record("accepted \(json)")
            } catch {
                #expect(error.description.contains(expected), "got: \(error.description)")
            }
        }
        let ok = #"{"format": "tributary.linear/1", "type": "logistic_regression", "features": ["a", "b"], "coef": [[1, 2]], "intercept": [0.5]}"#
        try ok.write(toFile: path, atomically: true, encoding: .utf8)
        let c = try ClusterConfig.parse("[features]\nnumeric = [\"a\", \"b\"]\naggregates = []\n[model]\nweights_file = \"\(path)\"")
        #expect(c.model.pretrained?.parameters == [1, 2, 0.5])
        try check(ok.replacingOccurrences(of: #"["a", "b"]"#, with: #"["a", "c"]"#),
                  #"'features'[1] is "c", the feature spec has "b" there"#)
        try check(ok.replacingOccurrences(of: "[[1, 2]]", with: "[[1, 2, 3]]"), "'coef'[0] has 3 values, expected 2")
        try check(ok.replacingOccurrences(of: "logistic_regression", with: "linear_regression"),
                  #"'type' is "linear_regression" but model.type is "logistic_regression""#)
        try check(ok.replacingOccurrences(of: #""intercept": [0.5]"#, with: #""intercept": "x""#), "is not a Tributary weights file: field 'intercept'")
        try check("{", "is not a Tributary weights file")
    }

    @Test("TOML parser: nested tables, arrays of tables, escapes, numbers")
    func parser() throws {
        let t = try TOMLParser.parse("""
        a.b = 1_000
        s = "tab\\tquote\\" \\u00e9"
        f = -1.5e3
        [[srv]]
        name = "x"
        [[srv]]
        name = "y"
        """)
        guard case .table(let a) = t["a"]?.value, case .integer(1000) = a["b"]?.value else {
            Issue.record("a.b"); return
        }
        #expect(t["s"]?.value == .string("tab\tquote\" é"))
        #expect(t["f"]?.value == .float(-1500))
        guard case .array(let srv) = t["srv"]?.value else { Issue.record("srv"); return }
        #expect(srv.count == 2)
        #expect(t["srv"]?.line == 4)
    }
}
