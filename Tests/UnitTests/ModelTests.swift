import Foundation
import Testing
@testable import Models

@Suite("Models")
struct ModelTests {
    func logLoss(_ m: LogisticRegression, _ x: [Double], _ y: Double) -> Double {
        let p = m.predictProba(x)
        return y > 0.5 ? -log(p) : -log(1 - p)
    }

    @Test("log-loss gradient matches finite differences")
    func gradient() {
        var m = LogisticRegression(width: 3, learningRate: 1)
        m.weights = [0.3, -0.2, 0.5]
        m.intercept = 0.1
        let x = [1.5, -0.7, 2.0], y = 1.0
        // One SGD step with lr = 1 moves each weight by -gradient.
        var stepped = m
        stepped.learn(x, label: y)
        let h = 1e-6
        for i in 0..<3 {
            var plus = m, minus = m
            plus.weights[i] += h
            minus.weights[i] -= h
            let numeric = (logLoss(plus, x, y) - logLoss(minus, x, y)) / (2 * h)
            let analytic = m.weights[i] - stepped.weights[i]
            #expect(abs(numeric - analytic) < 1e-6, "w\(i): \(numeric) vs \(analytic)")
        }
        var plus = m, minus = m
        plus.intercept += h
        minus.intercept -= h
        let numeric = (logLoss(plus, x, y) - logLoss(minus, x, y)) / (2 * h)
        #expect(abs(numeric - (m.intercept - stepped.intercept)) < 1e-6)
    }

    @Test("SGD finds a separating direction on a tiny separable problem")
    func learns() {
        var c = OnlineClassifier(width: 2, learningRate: 0.1)
        var metrics = BinaryMetrics()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<5000 {
            let x = [Double.random(in: -1...1, using: &rng), Double.random(in: -1...1, using: &rng)]
            let y: Double = x[0] + 2 * x[1] > 0 ? 1 : 0
            let p = c.predictThenLearn(x, label: y)
            if i > 2500 { metrics.update(probability: p, label: y) }
        }
        #expect(metrics.accuracy > 0.95)
        #expect(c.model.weights[1] > c.model.weights[0] && c.model.weights[0] > 0)
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

    @Test("NaN never enters the weights")
    func nanGuard() {
        var m = LogisticRegression(width: 1)
        m.learn([.nan], label: 1)
        #expect(m.weights.allSatisfy(\.isFinite) && m.intercept.isFinite)
    }

    @Test("metrics: accuracy with ties to negative, clamped log loss")
    func metrics() {
        var m = BinaryMetrics()
        m.update(probability: 0.5, label: 0)   // 0.5 -> predicts 0: correct
        m.update(probability: 1.0, label: 0)   // wrong; log loss clamped, finite
        #expect(m.accuracy == 0.5)
        #expect(m.logLoss.isFinite && m.logLoss > 10)
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
