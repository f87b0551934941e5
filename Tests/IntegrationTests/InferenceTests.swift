import Foundation
import Testing

/// Issue 5's inference-only mode: a scikit-learn model exported by `tools/export_sklearn.py`
/// is loaded by the coordinator, sent to a worker, and scores every event exactly as
/// scikit-learn's `predict_proba` does, without learning.
@Suite("Inference-only mode", .serialized)
struct InferenceTests {
    struct Expected: Decodable {
        var features: [String]
        var classes: [String]
        var proba: [[Double]]
    }

    @Test("pre-trained scikit-learn weights reproduce predict_proba to 1e-6; the model never learns",
          arguments: ["binary", "multiclass"])
    func reproducesSklearn(kind: String) throws {
        let dir = NSTemporaryDirectory() + "sklearn-\(kind)-\(getpid())"
        #expect(sh("python3 '\(repoRoot)/tools/sklearn_fixture.py' \(kind) '\(dir)'") == 0, "fixture (scikit-learn installed?)")
        #expect(sh("python3 '\(repoRoot)/tools/export_sklearn.py' '\(dir)/model.pkl' --features f0,f1,f2,f3 --out '\(dir)/weights.json'") == 0)
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/expected.json")))
        let classes = expected.classes.map { "\"\($0)\"" }.joined(separator: ", ")
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 1
        [features]
        key = "id"
        timestamp = ""
        label = "y"
        numeric = ["f0", "f1", "f2", "f3"]
        aggregates = []
        [model]
        type = "\(kind == "binary" ? "logistic_regression" : "softmax_regression")"
        \(kind == "binary" ? "" : "classes = [\(classes)]")
        mode = "inference"
        weights_file = "\(dir)/weights.json"
        """)
        let worker = try cluster.worker("scorer")
        try cluster.waitFor(seconds: 20, "the worker owns the partition and has the weights") {
            $0.unassigned.isEmpty && $0.workers.first?.report?.modelVersion == 1
        }
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--topic", "events", "--file", dir + "/events.jsonl"])
        #expect(gen.wait(seconds: 60) == 0, "\(gen.log)")
        let n = expected.proba.count
        let s = try cluster.waitFor(seconds: 60, "all \(n) events scored") { ($0.workers.first?.report?.predictions ?? 0) >= Int64(n) }
        // Scored is not yet delivered (the producer lingers): read once every input offset is
        // committed, which happens only after its prediction is delivered.
        try cluster.waitCommitted(try highWatermarks(bootstrap: cluster.bootstrap, topic: "events"), seconds: 30)
        let outputs = try readAll(bootstrap: cluster.bootstrap, topic: "predictions")
        #expect(outputs.count == n)
        var worst = 0.0
        for r in outputs {
            let j = try #require(r.json)
            let i = try #require(j["offset"] as? Int)
            let want = expected.proba[i]
            if kind == "binary" {
                worst = max(worst, abs((j["score"] as? Double ?? -1) - want[1]))
            } else {
                let probs = try #require(j["probabilities"] as? [String: Double])
                for (k, name) in expected.classes.enumerated() { worst = max(worst, abs((probs[name] ?? -1) - want[k])) }
                let best = want.indices.max { want[$0] < want[$1] }!
                #expect(j["prediction"] as? String == expected.classes[best])
            }
            #expect(j["model_version"] as? Int == 1)
        }
        print("inference \(kind): \(outputs.count) predictions, largest difference from scikit-learn \(worst)")
        #expect(worst <= 1e-6, "largest difference from predict_proba: \(worst)")
        // Labels are scored, not learnt: no deltas, so the global version stays the file's.
        #expect(s.modelVersion == 1)
        #expect(s.metrics["count"] == Double(n) && s.task == (kind == "binary" ? "binary" : "multiclass"))
        print("inference \(kind) status: \(s.metrics)")
        worker.signal(SIGTERM)
        #expect(worker.wait(seconds: 20) == 0)
    }
}
