import Foundation
import Testing
@testable import Models
import Features

@Suite("Models")
struct ModelTests {
    /// A model with non-trivial parameters (so every gradient term matters).
    func seeded(_ kind: ModelKind, inputs: Int, classes: Int = 3) -> LinearModel {
        var m = LinearModel(kind: kind, inputs: inputs, classes: classes)
        var rng = SplitMix64(seed: 7)
        m.setParameters((0..<m.parameterCount).map { _ in Double.random(in: -0.8...0.8, using: &rng) })
        return m
    }

    @Test("each loss's gradient equals finite differences (dense and sparse inputs)",
          arguments: [(ModelKind.logisticRegression, 1.0), (.softmaxRegression, 2.0), (.linearRegression, 1.7)])
    func gradients(kind: ModelKind, label: Double) {
        var m = seeded(kind, inputs: 6)
        let x = [1.5, -0.7, 2.0]
        let sparse = SparseInput(indices: [4, 5], values: [1, 0.5])
        let analytic = m.gradient(x, sparse: sparse, label: label)
        let h = 1e-6
        let p = m.parameters
        for i in p.indices {
            var plus = m, minus = m
            var pp = p, pm = p
            pp[i] += h
            pm[i] -= h
            plus.setParameters(pp)
            minus.setParameters(pm)
            let numeric = (plus.loss(x, sparse: sparse, label: label) - minus.loss(x, sparse: sparse, label: label)) / (2 * h)
            #expect(abs(numeric - analytic[i]) < 1e-5, "\(kind) parameter \(i): numeric \(numeric) vs analytic \(analytic[i])")
        }
        // Input 3 is neither dense nor among the sparse indices: no gradient.
        #expect(analytic[3] == 0)
    }

    @Test("one SGD step (lr 1) moves every parameter by minus the gradient")
    func sgdStep() {
        var m = seeded(.softmaxRegression, inputs: 3)
        var stepped = m
        stepped.setParameters(m.parameters)
        let x = [0.3, -1.1, 0.4]
        let g = m.gradient(x, label: 0)
        var sgd = LinearModel(kind: .softmaxRegression, inputs: 3, classes: 3, optimizer: OptimizerSpec(learningRate: 1))
        sgd.setParameters(m.parameters)
        sgd.learn(x, label: 0)
        for i in g.indices { #expect(abs(sgd.parameters[i] - (m.parameters[i] - g[i])) < 1e-12) }
    }

    @Test("intercept = false keeps the intercepts where they are (River's SoftmaxRegression); intercept_lr gives them plain SGD at their own rate while the weights keep their optimiser")
    func interceptSettings() {
        let x = [0.3, -1.1, 0.4]
        var none = LinearModel(kind: .softmaxRegression, inputs: 3, classes: 3, fitIntercept: false)
        for _ in 0..<50 { none.learn(x, label: 1) }
        #expect(none.intercepts == [0, 0, 0] && none.weights.contains { $0 != 0 })
        // Linear regression from 0: the first prediction is 0, the loss derivative 2·(0 − y).
        var own = LinearModel(kind: .linearRegression, inputs: 3, optimizer: OptimizerSpec(kind: .adam, learningRate: 0.01), interceptLR: 0.1)
        var same = LinearModel(kind: .linearRegression, inputs: 3, optimizer: OptimizerSpec(kind: .adam, learningRate: 0.01))
        own.learn(x, label: 2)
        same.learn(x, label: 2)
        #expect(own.intercepts[0] == -0.1 * (2 * (0 - 2)))
        #expect(own.weights == same.weights, "the weights' optimiser is untouched")
        #expect(same.intercepts[0] != own.intercepts[0])
    }

    /// y = 2·x0 − 3·x1 + 1 without noise: every optimiser reaches the exact optimum.
    @Test("each optimiser reaches the known optimum of a tiny least-squares problem",
          arguments: [(OptimizerSpec.Kind.sgd, 0.05), (.adagrad, 0.5), (.adam, 0.05), (.ftrl, 0.5)])
    func optimisers(kind: OptimizerSpec.Kind, rate: Double) {
        var spec = OptimizerSpec(kind: kind, learningRate: rate)
        if kind == .sgd { spec.schedule = .constant }
        var m = LinearModel(kind: .linearRegression, inputs: 2, optimizer: spec)
        var rng = SplitMix64(seed: 1)
        for _ in 0..<20_000 {
            let x = [Double.random(in: -1...1, using: &rng), Double.random(in: -1...1, using: &rng)]
            m.learn(x, label: 2 * x[0] - 3 * x[1] + 1)
        }
        let p = m.parameters
        #expect(abs(p[0] - 2) < 0.02 && abs(p[1] + 3) < 0.02 && abs(p[2] - 1) < 0.02, "\(kind): \(p)")
    }

    @Test("inverse-scaling schedule: the rate decays as lr / t^power")
    func schedule() {
        var o = Optimizer(OptimizerSpec(kind: .sgd, learningRate: 1, schedule: .inverseScaling), count: 1)
        var w = 0.0
        for t in 1...4 {
            o.beginStep()
            let before = w
            o.update(&w, 0, gradient: 1, l1: 0, l2: 0)
            #expect(abs((before - w) - 1 / Double(t).squareRoot()) < 1e-12)
        }
    }

    @Test("FTRL with L1 keeps irrelevant weights exactly zero; logistic optimum found")
    func ftrlSparsity() {
        var spec = OptimizerSpec(kind: .ftrl, learningRate: 0.5)
        spec.ftrlBeta = 1
        var m = LinearModel(kind: .logisticRegression, inputs: 4, optimizer: spec, l1: 5.0)
        var rng = SplitMix64(seed: 3)
        var correct = 0
        for i in 0..<20_000 {
            // Only x0 and x1 matter; x2, x3 are noise.
            let x = (0..<4).map { _ in Double.random(in: -1...1, using: &rng) }
            let y: Double = 3 * x[0] - 2 * x[1] > 0 ? 1 : 0
            var out = [0.0]
            m.predict(x, into: &out)
            if i >= 10_000, (out[0] > 0.5) == (y == 1) { correct += 1 }
            m.learn(x, label: y, predicted: out)
        }
        #expect(correct > 9_700, "accuracy \(Double(correct) / 10_000)")
        #expect(m.weights[2] == 0 && m.weights[3] == 0, "noise weights \(m.weights[2]), \(m.weights[3])")
        #expect(m.weights[0] > 0 && m.weights[1] < 0)
    }

    @Test("FTRL: setting merged weights keeps the closed form consistent (z solved from w)")
    func ftrlAdopt() {
        var m = LinearModel(kind: .linearRegression, inputs: 2, optimizer: OptimizerSpec(kind: .ftrl, learningRate: 0.3), l1: 0.1, l2: 0.2)
        for i in 0..<50 { m.learn([1, Double(i % 3)], label: 2) }
        let target = [0.7, -0.4, 0.25]
        m.setParameters(target)
        // The optimiser's own closed form gives back exactly what was set.
        for i in 0..<2 { #expect(abs(m.optimizer.ftrlWeight(i, l1: 0.1, l2: 0.2) - target[i]) < 1e-12) }
        #expect(abs(m.optimizer.ftrlWeight(2, l1: 0, l2: 0) - target[2]) < 1e-12)
        // A zero weight keeps |z| <= l1.
        m.setParameters([0, 0.5, 0])
        #expect(m.optimizer.ftrlWeight(0, l1: 0.1, l2: 0.2) == 0)
    }

    @Test("gradient clipping bounds a step; NaN and Inf never enter the weights")
    func guards() {
        var m = LinearModel(kind: .linearRegression, inputs: 1, optimizer: OptimizerSpec(learningRate: 1), clipGradient: 0.5)
        m.learn([1], label: 1000)   // gradient 2·(0 − 1000) clipped to −0.5
        #expect(m.parameters == [0.5, 0.5])
        for bad in [Double.nan, .infinity] {
            var l = LinearModel(kind: .logisticRegression, inputs: 1)
            l.learn([bad], label: 1)
            l.learn([1], sparse: SparseInput(indices: [0], values: [bad]), label: 1)
            var s = LinearModel(kind: .softmaxRegression, inputs: 1, classes: 3)
            s.learn([1e308], label: 1)
            s.learn([1], label: 7)  // not a class: ignored
            #expect(l.parameters.allSatisfy(\.isFinite) && s.parameters.allSatisfy(\.isFinite))
            #expect(l.parameters == [0, 0])
        }
    }

    @Test("softmax regression learns three classes; probabilities sum to 1")
    func softmaxLearns() {
        var m = OnlineModel(model: LinearModel(kind: .softmaxRegression, inputs: 2, classes: 3, optimizer: OptimizerSpec(learningRate: 0.1)),
                            dense: 2, scaling: .online(StandardScaler(width: 2)))
        var rng = SplitMix64(seed: 11)
        var eval = Evaluation(task: .multiclass, classes: 3, windowSize: 2000)
        let centres = [(0.0, 0.0), (4.0, 0.0), (0.0, 4.0)]
        for _ in 0..<6000 {
            let c = Int.random(in: 0..<3, using: &rng)
            let x = [centres[c].0 + Double.random(in: -1...1, using: &rng), centres[c].1 + Double.random(in: -1...1, using: &rng)]
            m.predictThenLearn(x, label: Double(c))
            #expect(abs(m.output.reduce(0, +) - 1) < 1e-9)
            eval.observe(.multiclass(probabilities: m.output, predicted: m.predictedClass, label: c))
        }
        #expect(eval.report.window.accuracy > 0.97, "recent accuracy \(eval.report.window.accuracy)")
        #expect(eval.report.window.macroF1 > 0.97)
    }

    @Test("standard scaler: population mean/variance, zero variance scales to 0")
    func scaler() {
        var s = StandardScaler(width: 2)
        for x in [[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]] { s.learn(x) }
        var out = [0.0, 0.0]
        s.transform([5, 5], into: &out)
        // mean 3, population variance 8/3
        #expect(abs(out[0] - 2 / (8.0 / 3).squareRoot()) < 1e-12)
        #expect(out[1] == 0)
    }

    @Test("scaler moments add up: two workers' merged scalers equal one scaler over all the data")
    func scalerMoments() {
        var a = StandardScaler(width: 2), b = StandardScaler(width: 2), all = StandardScaler(width: 2)
        for i in 0..<100 {
            let x = [Double(i) * 0.5 + 3, Double(i % 7) - 100]
            if i % 3 == 0 { a.learn(x) } else { b.learn(x) }
            all.learn(x)
        }
        var merged = StandardScaler(width: 2)
        merged.setMoments(zip(a.moments, b.moments).map { $0 + $1 })
        for i in 0..<2 {
            #expect(merged.counts[i] == all.counts[i])
            #expect(abs(merged.means[i] - all.means[i]) < 1e-9 && abs(merged.vars[i] - all.vars[i]) < 1e-6)
        }
    }

    @Test("inference only: fixed scaling, never learns")
    func inferenceOnly() {
        var lm = LinearModel(kind: .logisticRegression, inputs: 2)
        lm.setParameters([1, -2, 0.5])
        var m = OnlineModel(model: lm, dense: 2, scaling: .fixed(mean: [1, 2], scale: [2, 4]), learns: false)
        m.predictThenLearn([3, 6], label: 0)
        // z = 0.5 + 1·(3−1)/2 − 2·(6−2)/4 = −0.5
        #expect(abs(m.output[0] - 1 / (1 + exp(0.5))) < 1e-15)
        #expect(m.model.parameters == [1, -2, 0.5])
    }

    @Test("averaging: three workers' deltas give exactly the sample-weighted mean")
    func averaging() throws {
        let global = [1.0, 2.0, 3.0]
        let deltas = [
            ParameterDelta(worker: "a", baseVersion: 4, samples: 100, delta: [0.5, 0, -1]),
            ParameterDelta(worker: "b", baseVersion: 4, samples: 300, delta: [-0.5, 1, 1]),
            ParameterDelta(worker: "c", baseVersion: 3, samples: 600, delta: [1, 0.5, 0]),
        ]
        for d in deltas { try ModelAveraging.validate(d, width: 3) }
        let merged = ModelAveraging.merge(global: global, deltas: deltas)
        // by hand: w + (0.1*Δa + 0.3*Δb + 0.6*Δc)
        let expected = [1 + 0.05 - 0.15 + 0.6, 2 + 0 + 0.3 + 0.3, 3 - 0.1 + 0.3 + 0]
        for i in 0..<3 { #expect(abs(merged[i] - expected[i]) < 1e-12) }
        // merge = "sum": every delta in full.
        let summed = ModelAveraging.merge(global: global, deltas: deltas, rule: .sum)
        #expect(summed == [2.0, 3.5, 3.0])
    }

    @Test("averaging rejects wrong dimension, NaN and empty deltas")
    func rejects() {
        #expect(throws: DeltaRejection.wrongDimension(expected: 3, got: 2)) {
            try ModelAveraging.validate(ParameterDelta(worker: "x", baseVersion: 0, samples: 1, delta: [1, 2]), width: 3)
        }
        #expect(throws: DeltaRejection.notFinite) {
            try ModelAveraging.validate(ParameterDelta(worker: "x", baseVersion: 0, samples: 1, delta: [1, .nan, 2]), width: 3)
        }
        #expect(throws: DeltaRejection.noSamples) {
            try ModelAveraging.validate(ParameterDelta(worker: "x", baseVersion: 0, samples: 0, delta: [1, 1, 2]), width: 3)
        }
    }
}

@Suite("Evaluation")
struct EvaluationTests {
    /// Exact AUC by comparing every positive with every negative (ties ½).
    func exactAUC(_ scores: [(Double, Bool)]) -> Double {
        let pos = scores.filter(\.1).map(\.0), neg = scores.filter { !$0.1 }.map(\.0)
        var s = 0.0
        for p in pos { for n in neg { s += p > n ? 1 : (p == n ? 0.5 : 0) } }
        return s / Double(pos.count * neg.count)
    }

    @Test("binary: accuracy (ties to negative), clamped log loss, ROC AUC within 0.002 of the exact figure")
    func binary() {
        var m = MetricState(task: .binary)
        m.apply(.binary(probability: 0.5, label: 0))   // 0.5 predicts 0: correct
        m.apply(.binary(probability: 1.0, label: 0))   // wrong; log loss clamped, finite
        #expect(m.accuracy == 0.5)
        #expect(m.meanLoss.isFinite && m.meanLoss > 10)

        var rng = SplitMix64(seed: 5)
        var scores: [(Double, Bool)] = []
        var auc = MetricState(task: .binary)
        for _ in 0..<3000 {
            let y = Bool.random(using: &rng)
            let z = (y ? 1.2 : -0.3) + Double.random(in: -3...3, using: &rng)
            let p = 1 / (1 + exp(-z))
            scores.append((p, y))
            auc.apply(.binary(probability: p, label: y ? 1 : 0))
        }
        let exact = exactAUC(scores)
        #expect(abs(auc.rocAUC - exact) < 0.002, "binned \(auc.rocAUC) vs exact \(exact)")
    }

    @Test("multiclass: macro-F1 from the confusion counts, by hand")
    func macroF1() {
        var m = MetricState(task: .multiclass, classes: 3)
        // (label, predicted): class 0: TP 2, FN 1 (pred 1); class 1: TP 1, FP 1; class 2: never seen.
        for (y, p) in [(0, 0), (0, 0), (0, 1), (1, 1)] {
            m.apply(Observation(label: Double(y), prediction: Double(p), loss: 0.1))
        }
        // F1(0) = 4/(4+0+1) = 0.8; F1(1) = 2/(2+1+0) = 2/3; class 2 absent: not averaged.
        #expect(abs(m.macroF1 - (0.8 + 2.0 / 3) / 2) < 1e-12)
        #expect(m.accuracy == 0.75)
    }

    @Test("regression: MAE, RMSE and R² by hand")
    func regression() {
        var m = MetricState(task: .regression)
        for (yhat, y) in [(2.0, 1.0), (2.0, 3.0), (5.0, 5.0), (3.0, 7.0)] { m.apply(.regression(prediction: yhat, target: y)) }
        #expect(abs(m.mae - 1.5) < 1e-12)           // (1 + 1 + 0 + 4) / 4
        #expect(abs(m.rmse - (18.0 / 4).squareRoot()) < 1e-12)
        // SST: mean 4, (9 + 1 + 1 + 9) = 20; R² = 1 − 18/20
        #expect(abs(m.r2 - 0.1) < 1e-12)
    }

    @Test("rolling window equals the metrics of just the last N observations; merge adds states")
    func window() {
        var e = Evaluation(task: .regression, windowSize: 50, drift: nil)
        var rng = SplitMix64(seed: 9)
        var all: [Observation] = []
        for _ in 0..<437 {
            let o = Observation.regression(prediction: Double.random(in: 0...10, using: &rng), target: Double.random(in: 0...10, using: &rng))
            all.append(o)
            e.observe(o)
        }
        var last = MetricState(task: .regression)
        for o in all.suffix(50) { last.apply(o) }
        #expect(e.report.window.count == 50)
        #expect(abs(e.report.window.mae - last.mae) < 1e-9 && abs(e.report.window.r2 - last.r2) < 1e-9)
        var a = MetricState(task: .regression), b = MetricState(task: .regression), both = MetricState(task: .regression)
        for (i, o) in all.enumerated() { if i % 2 == 0 { a.apply(o) } else { b.apply(o) }; both.apply(o) }
        a.merge(b)
        #expect(a.count == both.count && abs(a.rmse - both.rmse) < 1e-9)
    }

    @Test("Page-Hinkley: silent on a stationary loss, fires soon after it rises")
    func drift() {
        var ph = PageHinkley(threshold: 20)
        var rng = SplitMix64(seed: 2)
        var firstDetection: Int?
        for i in 0..<4000 {
            let loss = (i < 2000 ? 0.3 : 0.9) + Double.random(in: -0.1...0.1, using: &rng)
            if ph.update(loss), firstDetection == nil { firstDetection = i }
        }
        #expect(firstDetection != nil)
        // A rise of 0.6 per event passes a threshold of 20 in about 35 events.
        #expect((firstDetection ?? 0) >= 2000 && (firstDetection ?? 0) < 2100, "detected at \(firstDetection ?? -1)")
    }
}
