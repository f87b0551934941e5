import Foundation
import Testing
@testable import Coordinator
@testable import Worker
import Config
import Wire
import Models
import Features

/// Issue 11's pure parts: several models in one parameter vector, A/B routing, the
/// lifecycle's changes and the promotion rule.
@Suite("Model lifecycle")
struct LifecycleTests {
    /// Four numeric features, no aggregates or hashed inputs.
    static let features: FeatureSpec = {
        var s = FeatureSpec()
        s.numeric = ["a", "b", "c", "d"]
        s.aggregates = []
        return s
    }()

    static func layout(_ extra: [ModelEntry] = []) -> ModelLayout {
        ModelLayout(models: [ModelEntry(name: "main", spec: ModelSpec())] + extra, champion: "main")
    }

    @Test("a model reading a subset of the features predicts and learns as a model built on that subset alone")
    func subsetModel() {
        let l = Self.layout([ModelEntry(name: "bd", spec: ModelSpec(), features: ["b", "d"])])
        var set = ModelSet(layout: l, features: Self.features)
        var alone = ModelSpec().makeModel(dense: 2, hashed: 0)
        var full = ModelSpec().makeModel(dense: 4, hashed: 0)
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let x = (0..<4).map { _ in Double.random(in: -2...2, using: &rng) }
            let y: Double = x[1] + x[3] > 0 ? 1 : 0
            set.score(x, sparse: .empty, label: y)
            alone.predictThenLearn([x[1], x[3]], label: y)
            full.predictThenLearn(x, label: y)
            #expect(set.models[1].output == alone.output)
            #expect(set.models[0].output == full.output)
        }
        // One vector: the champion's 5 parameters, then the challenger's 3.
        #expect(set.geometry.parameterCount == 5 + 3)
        #expect(set.parameters == full.model.parameters + alone.model.parameters)
        // Scaler moments: [counts | Σx | Σx²] over the 4 + 2 scaled inputs.
        let m = set.scalerMoments
        #expect(m.count == 3 * 6)
        #expect(Array(m[4..<6]) == Array(alone.scalerMoments[0..<2]))  // the challenger's counts
        #expect(Array(m[16..<18]) == Array(alone.scalerMoments[4..<6]))  // its Σx²
        var copy = ModelSet(layout: l, features: Self.features)
        copy.setParameters(set.parameters)
        copy.setScalerMoments(m)
        #expect(copy.parameters == set.parameters && copy.scalerMoments == m)
    }

    @Test("A/B: a stable key hash sends the configured share of keys to the challenger, each key always to the same model")
    func abRouting() {
        let l = Self.layout([ModelEntry(name: "b", spec: ModelSpec(), abShare: 0.2)])
        let set = ModelSet(layout: l, features: Self.features)
        var toB = 0
        for k in 0..<100_000 where set.route(key: "user-\(k)") == 1 { toB += 1 }
        #expect(abs(Double(toB) / 100_000 - 0.2) < 0.005, "\(toB)")
        // Stable: across instances (workers) and calls.
        let other = ModelSet(layout: l, features: Self.features)
        for k in 0..<1000 { #expect(set.route(key: "u\(k)") == other.route(key: "u\(k)")) }
        // Promoting b: keys not in b's share now go to b (the champion), b's share is unused.
        var promoted = set
        var pl = l
        pl.champion = "b"
        promoted.adopt(champion: pl)
        for k in 0..<1000 { #expect(promoted.route(key: "u\(k)") == 1) }
    }

    @Test("deploy keeps every model's parameters and scaler, adds the new one fresh or with given weights; retire removes it")
    func deployRetire() throws {
        let lc = ModelLifecycle(layout: Self.layout(), features: Self.features)
        let params = [1.0, 2, 3, 4, 5]
        let scaler = (0..<12).map(Double.init)
        let entry = ModelEntry(name: "ab", spec: ModelSpec(), features: ["a", "b"])
        let fresh = try lc.deploying(entry, initial: [], parameters: params, scaler: scaler).get()
        #expect(fresh.parameters == params + [0, 0, 0])
        // Counts of a,b,c,d then the new model's two; Σx likewise; Σx² likewise.
        #expect(fresh.scaler == [0, 1, 2, 3, 0, 0, 4, 5, 6, 7, 0, 0, 8, 9, 10, 11, 0, 0])
        let warm = try lc.deploying(entry, initial: [7, 8, 9, 100, 200, 10, 20, 30, 40], parameters: params, scaler: scaler).get()
        #expect(warm.parameters == params + [7, 8, 9])
        #expect(warm.scaler == [0, 1, 2, 3, 100, 200, 4, 5, 6, 7, 10, 20, 8, 9, 10, 11, 30, 40])
        // Errors name what is wrong.
        #expect(throws: LifecycleError.self) { try lc.deploying(ModelEntry(name: "main", spec: ModelSpec()), initial: [], parameters: params, scaler: scaler).get() }
        let bad = lc.deploying(ModelEntry(name: "x", spec: ModelSpec(), features: ["zz"]), initial: [], parameters: params, scaler: scaler)
        #expect(bad.failureText?.contains("'zz'") == true)
        #expect(lc.deploying(entry, initial: [1, 2], parameters: params, scaler: scaler).failureText?.contains("3 parameters") == true)
        // A spec from the wire is parsed as a file is, with its bounds (every worker would allocate the window).
        func specError(_ text: String) -> String {
            do { _ = try ModelEntry.parse(text); return "" } catch { return "\(error)" }
        }
        #expect(specError("name = \"x\"\nmetrics_window = 1000000000000").contains("metrics_window"))
        #expect(specError("name = \"x\"\nmode = \"inference\"").contains("mode"))

        var two = lc
        two.adopt(warm.layout, now: [])
        let back = try two.retiring("ab", parameters: warm.parameters, scaler: warm.scaler).get()
        #expect(back.layout == Self.layout() && back.parameters == params && back.scaler == scaler)
        #expect(two.retiring("main", parameters: warm.parameters, scaler: warm.scaler).failureText?.contains("champion") == true)
        #expect(try two.promoting("ab").get().champion == "ab")
    }

    @Test("the promotion rule names a challenger that beats the champion by the margin, only after enough records")
    func promotionRule() {
        var rule = LifecycleSection()
        rule.promoteMetric = "log_loss"
        rule.promoteMargin = 0.05
        rule.promoteMinRecords = 1000
        let l = Self.layout([ModelEntry(name: "b", spec: ModelSpec()), ModelEntry(name: "c", spec: ModelSpec())])
        var lc = ModelLifecycle(layout: l, features: Self.features, rule: rule)
        func st(_ name: String, _ champ: Bool, _ n: Int64, _ loss: Double) -> ModelStatus {
            var s = ModelStatus(name: name, champion: champ, abShare: 0, features: 4)
            s.labelled = n
            s.windowMetrics = ["log_loss": loss, "count": 500]
            return s
        }
        // Not enough records yet.
        #expect(lc.ruleDecision([st("main", true, 900, 0.6), st("b", false, 900, 0.3), st("c", false, 900, 0.5)]) == nil)
        // b is better by 0.3, c by only 0.03 (< margin): b.
        let d = lc.ruleDecision([st("main", true, 1200, 0.6), st("b", false, 1200, 0.3), st("c", false, 1200, 0.57)])
        #expect(d?.name == "b")
        #expect(d?.reason.contains("b's log_loss 0.3000 beats champion main's 0.6000") == true)
        // After a change, each model needs promote_min_records more.
        lc.adopt(try! lc.promoting("b").get(), now: [st("main", false, 1200, 0.6), st("b", true, 1200, 0.3), st("c", false, 1200, 0.1)])
        #expect(lc.ruleDecision([st("b", true, 1500, 0.3), st("main", false, 1500, 0.6), st("c", false, 1500, 0.1)]) == nil)
        #expect(lc.ruleDecision([st("b", true, 2300, 0.3), st("main", false, 2300, 0.6), st("c", false, 2300, 0.1)])?.name == "c")
        // Higher-is-better metrics compare the other way.
        rule.promoteMetric = "accuracy"
        let acc = ModelLifecycle(layout: l, features: Self.features, rule: rule)
        var champ = st("main", true, 2000, 0), chal = st("b", false, 2000, 0)
        champ.windowMetrics["accuracy"] = 0.7
        chal.windowMetrics["accuracy"] = 0.9
        #expect(acc.ruleDecision([champ, chal])?.name == "b")
        #expect(acc.ruleDecision([chal.asChampion, champ.asChallenger]) == nil)
    }

    @Test("cluster.conf: challengers and [lifecycle] parse; errors name the key")
    func config() throws {
        let base = """
        [features]
        numeric = ["a", "b", "c"]
        aggregates = []
        [model]
        name = "small"
        features = ["a"]
        """
        let c = try ClusterConfig.parse(base + """

        [challengers.wide]
        learning_rate = 0.05
        ab_share = 0.2
        [lifecycle]
        shadow_topic = "shadow"
        promote_metric = "accuracy"
        """)
        #expect(c.layout.models.map(\.name) == ["small", "wide"] && c.layout.champion == "small")
        #expect(c.layout.models[0].features == ["a"] && c.layout.models[1].abShare == 0.2)
        #expect(c.layout.models[1].spec.optimizer.learningRate == 0.05)
        #expect(c.lifecycle.shadowTopic == "shadow" && c.lifecycle.promoteMetric == "accuracy")
        func error(_ extra: String) -> String {
            do { _ = try ClusterConfig.parse(base + "\n" + extra); return "" } catch { return "\(error)" }
        }
        #expect(error("[challengers.w]\nfeatures = [\"zz\"]").contains("challengers.w"))
        #expect(error("[challengers.w]\nfeatures = [\"zz\"]").contains("'zz'"))
        #expect(error("[challengers.w]\nsync_interval_ms = 5").contains("challengers.w.sync_interval_ms"))
        #expect(error("[challengers.small]").contains("champion's name"))
        #expect(error("[challengers.w]\nab_share = 0.7\n[challengers.v]\nab_share = 0.7").contains("more than 1"))
        #expect(error("[lifecycle]\npromote_metric = \"rmse\"").contains("lifecycle.promote_metric"))
        #expect(error("[challengers.w]\ntype = \"linear_regression\"").contains("different tasks"))
        let spec = try ModelEntry.parse("name = \"x\"\nfeatures = [\"b\"]\nl2 = 0.1\n")
        #expect(spec.name == "x" && spec.features == ["b"] && spec.spec.l2 == 0.1)
        #expect(throws: ConfigError.self) { try ModelEntry.parse("features = [\"b\"]") }
    }

    @Test("quality history: a sample per interval, statuses without figures skipped, the newest `capacity` kept oldest first")
    func qualityHistory() {
        var h = QualityHistory(intervalMs: 100, capacity: 3)
        var s = ClusterStatus(cluster: "c", bootstrap: "b", inputTopic: "i", outputTopic: "o", deadLetterTopic: "d",
                              partitionCount: 1, unassigned: [], workers: [], uptimeMs: 0)
        #expect(h.due(now: 0))
        h.record(s, wallMs: 1, now: 0)
        #expect(h.samples.isEmpty, "nothing labelled yet: skipped")
        #expect(!h.due(now: 50) && h.due(now: 100))
        s.windowMetrics = ["accuracy": 0.5]
        for k in 1...5 {
            s.modelVersion = k
            h.record(s, wallMs: Int64(k), now: Int64(k * 100))
        }
        #expect(h.samples.map(\.version) == [3, 4, 5])
        #expect(h.samples.allSatisfy { $0.models == ["champion": ["accuracy": 0.5]] })
        var m = ModelStatus(name: "wide", champion: true, abShare: 0, features: 8)
        m.windowMetrics = ["accuracy": 0.9]
        s.models = [m]
        h.record(s, wallMs: 6, now: 600)
        #expect(h.samples.last?.champion == "wide" && h.samples.last?.models["wide"]?["accuracy"] == 0.9)
    }
}

extension Result {
    var failureText: String? { if case .failure(let e) = self { "\(e)" } else { nil } }
}

extension ModelStatus {
    var asChampion: ModelStatus { var s = self; s.champion = true; return s }
    var asChallenger: ModelStatus { var s = self; s.champion = false; return s }
}
