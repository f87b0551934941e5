import Foundation
import Testing
import Models

/// Issue 25's robustness bar, in process (the model path alone; 200,000 events): one extreme
/// value in a clean stream must not spoil the rest of it. River's StandardScaler takes it into
/// its running moments, after which every scaled input is ~0; Tributary winsorises at
/// `clip_sigma` (default 30) standard deviations.
@Suite("Model quality")
struct ModelQualityTests {
    /// Progressive accuracy of the configured model on a clean stream of `n` events (8 uniform
    /// features, a fixed hyperplane, 5 % label noise), with `outlier` put into feature 3 of
    /// event n/4 if given.
    static func accuracy(_ spec: ModelSpec, n: Int = 200_000, outlier: Double? = nil) -> Double {
        var m = spec.makeModel(dense: 8, hashed: 0)
        var seed: UInt64 = 99
        func unit() -> Double {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Double(seed >> 11) / Double(1 << 53)
        }
        let w = [0.9, -0.4, 0.7, 0.5, -0.8, 0.3, 0.6, -0.2]
        var x = [Double](repeating: 0, count: 8)
        var right = 0
        for i in 0..<n {
            for k in 0..<8 { x[k] = unit() }
            var y = zip(w, x).map(*).reduce(0, +) > 0.8 ? 1.0 : 0.0
            if unit() < 0.05 { y = 1 - y }
            if i == n / 4, let outlier { x[3] = outlier }
            m.predictThenLearn(x, label: y)
            if (m.output[0] > 0.5 ? 1.0 : 0.0) == y { right += 1 }
        }
        return Double(right) / Double(n)
    }

    @Test("one value of 1e29 (or 1.7e308) in 200,000 clean events moves accuracy by less than 0.5 points with the default clip_sigma; with clip_sigma = 0 (River's scaler) it ruins the rest of the stream")
    func extremeValue() {
        let robust = ModelSpec()
        var river = ModelSpec()
        river.clipSigma = 0
        let clean = Self.accuracy(robust)
        let cleanRiver = Self.accuracy(river)
        #expect(clean == cleanRiver, "on a clean stream the default equals River's scaler: \(clean) vs \(cleanRiver)")
        for v in [1e29, 1.7e308] {
            let a = Self.accuracy(robust, outlier: v)
            let r = Self.accuracy(river, outlier: v)
            print("one value \(v) in 200,000 events: accuracy clean \(clean), with it \(a) (clip_sigma 30), \(r) (clip_sigma 0, as River)")
            #expect(abs(a - clean) < 0.005, "\(v): \(a) vs clean \(clean)")
            #expect(r < clean - 0.02, "without winsorising the value spoils the stream: \(r) vs \(clean)")
        }
    }
}
