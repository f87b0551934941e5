import Dispatch

/// The merge rule (sample-weighted federated averaging):
///   w(v+1) = w(v) + Σ_i n_i · Δ_i / Σ_i n_i
/// where Δ_i = w_local,i − w(base_i) and n_i the labelled samples behind it. A delta taken
/// against an older base is still applied to the newest global (it is the worker's
/// progress, and dropping it would lose learning); deltas that are malformed are rejected.
public enum ModelAveraging {
    public static func validate(_ d: ParameterDelta, width: Int) throws(DeltaRejection) {
        if let indices = d.indices {
            guard d.width == width else { throw .wrongDimension(expected: width, got: d.width) }
            guard indices.count == d.delta.count else { throw .malformedSparse }
            var last = -1
            for i in indices {
                guard Int(i) > last, Int(i) < width else { throw .malformedSparse }
                last = Int(i)
            }
        } else if let p = d.packed {
            guard p.count == width else { throw .wrongDimension(expected: width, got: p.count) }
        } else {
            guard d.delta.count == width else { throw .wrongDimension(expected: width, got: d.delta.count) }
        }
        guard d.samples > 0 else { throw .noSamples }
        if let p = d.packed {
            guard p.squaresAndFinite().finite else { throw .notFinite }
        } else {
            guard d.delta.allSatisfy(\.isFinite) else { throw .notFinite }
        }
    }

    /// Validation and the norm in one pass (the aggregator's work on arrival).
    public static func validatedNorm(_ d: ParameterDelta, width: Int) throws(DeltaRejection) -> Double {
        guard let p = d.packed else {
            try validate(d, width: width)
            return norm(d.delta)
        }
        guard p.count == width else { throw .wrongDimension(expected: width, got: p.count) }
        guard d.samples > 0 else { throw .noSamples }
        let (squares, finite) = p.squaresAndFinite()
        guard finite else { throw .notFinite }
        return squares.squareRoot()
    }

    /// The L2 norm of the change, however it is held.
    public static func norm(of d: ParameterDelta) -> Double {
        d.packed.map { $0.squaresAndFinite().sum.squareRoot() } ?? norm(d.delta)
    }

    /// New global parameters from the current ones and accepted deltas.
    /// - `.average`: w + Σ nᵢΔᵢ / Σ nᵢ (federated averaging; robust, but K workers together
    ///   move the model about as far as one of them: on short streams they learn K× slower).
    /// - `.sum`: w + Σ Δᵢ (every worker's progress applied in full: with small steps this is
    ///   sequential SGD over all their samples, so short streams learn as fast as one worker
    ///   that saw everything; large learning rates can overshoot).
    ///
    /// `shards` > 1 splits the coordinates into that many ranges merged at once (a dense
    /// 2^20-weight model from 200 workers is 200 M multiply-adds a round). Each coordinate
    /// still receives the same additions in the same order, so the result is the same to the
    /// bit as one loop's; sparse deltas (`indices`) add only their touched coordinates, which
    /// is also exact (the skipped terms are w·0).
    public static func merge(global: [Double], deltas: [ParameterDelta], rule: MergeRule = .average, shards: Int = 1) -> [Double] {
        let total = deltas.reduce(0) { $0 + $1.samples }
        guard total > 0, !global.isEmpty else { return global }
        let weights = deltas.map { rule == .sum ? 1 : Double($0.samples) / Double(total) }
        var out = global
        let n = out.count, shards = max(1, min(shards, n))
        out.withUnsafeMutableBufferPointer { o in
            // Disjoint ranges of one buffer, one per shard.
            nonisolated(unsafe) let target = o
            @Sendable func mergeRange(_ s: Int) {
                let lo = n * s / shards, hi = n * (s + 1) / shards
                for (d, w) in zip(deltas, weights) {
                    if let p = d.packed {
                        p.forEach(lo..<hi) { i, v in target[i] += w * v }
                        continue
                    }
                    d.delta.withUnsafeBufferPointer { v in
                        if let idx = d.indices {
                            var k = firstIndex(in: idx, notBelow: lo)
                            while k < idx.count, Int(idx[k]) < hi {
                                target[Int(idx[k])] += w * v[k]
                                k += 1
                            }
                        } else {
                            for i in lo..<hi { target[i] += w * v[i] }
                        }
                    }
                }
            }
            if shards == 1 { mergeRange(0) } else { DispatchQueue.concurrentPerform(iterations: shards, execute: mergeRange) }
        }
        return out
    }

    /// The position of the first index ≥ `value` in an increasing list.
    static func firstIndex(in indices: [UInt32], notBelow value: Int) -> Int {
        var lo = 0, hi = indices.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(indices[mid]) < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

extension ModelAveraging {
    /// Clips or rejects outlying deltas before `merge`. The reference is the median over this
    /// round's deltas and `history` (recently accepted ones), so a single bad worker can
    /// neither set the reference nor hide among few peers. A clipped delta can move the
    /// global model at most its share of `factor` × the reference norm.
    /// `norms`: the deltas' norms when already known (the aggregator takes each as it
    /// arrives, so the round's merge does not wait for them).
    public static func robust(_ deltas: [ParameterDelta], history: (norms: [Double], samples: [Double]),
                              policy: RobustPolicy, norms known: [Double]? = nil) -> (kept: [ParameterDelta], actions: [String: RobustAction]) {
        guard policy.mode != .off, !deltas.isEmpty else {
            return (deltas, Dictionary(deltas.map { ($0.worker, .accepted) }, uniquingKeysWith: { a, _ in a }))
        }
        let norms = known ?? deltas.map { norm(of: $0) }
        let refNorm = median(norms + history.norms)
        let refSamples = median(deltas.map { Double($0.samples) } + history.samples)
        let normLimit = policy.factor * refNorm
        let samplesCap = max(1, Int((policy.factor * refSamples).rounded(.up)))
        var kept: [ParameterDelta] = []
        var actions: [String: RobustAction] = [:]
        for (d, n) in zip(deltas, norms) {
            var d = d
            var action = RobustAction.accepted
            if refNorm > 0 && n > normLimit {
                if policy.mode == .reject {
                    actions[d.worker] = .rejected(norm: n, limit: normLimit)
                    continue
                }
                let scale = normLimit / n
                if let p = d.packed {
                    d.delta = p.decoded()
                    d.packed = nil
                }
                for i in d.delta.indices { d.delta[i] *= scale }
                action = .clipped(norm: n, limit: normLimit)
            }
            if d.samples > samplesCap {
                if case .accepted = action { action = .samplesCapped(claimed: d.samples, cap: samplesCap) }
                d.samples = samplesCap
            }
            actions[d.worker] = action
            kept.append(d)
        }
        return (kept, actions)
    }

    public static func norm(_ v: [Double]) -> Double {
        var s = 0.0
        for x in v { s += x * x }
        return s.squareRoot()
    }

    static func median(_ v: [Double]) -> Double {
        guard !v.isEmpty else { return 0 }
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

extension ModelAveraging {
    /// A delta's scaler part when the robust step counted `counted` of its `claimed` samples:
    /// the same share of it (means and mean squares unchanged, counts and sums scaled down).
    public static func scalerPart(_ part: [Double], counted: Int, claimed: Int) -> [Double] {
        guard counted < claimed && claimed > 0 else { return part }
        let share = Double(counted) / Double(claimed)
        return part.map { $0 * share }
    }
}

extension ModelAveraging {
    /// Why a worker's scaler part (raw moments per input: counts, Σx, Σx², as
    /// `StandardScaler.moments` lays them out) must not be added to the cluster's, or nil
    /// when it may. Moments add up unweighted, so without these bounds one worker could claim
    /// any count or any value and move every worker's input standardisation:
    /// - every number finite, counts and Σx² not negative, Σx² ≥ (Σx)²/n (Cauchy–Schwarz:
    ///   true of any real values);
    /// - no input counted more often than the samples the delta may claim after the robust
    ///   step (`samples`);
    /// - once the cluster has seen `minCount` values of an input, the delta's mean of it
    ///   within `factor` cluster standard deviations of the cluster's mean, and its mean
    ///   square within `factor²` × the cluster's (drift moves a mean by far less; a poisoner
    ///   sending 1e12 does not get in).
    public static func scalerRejection(_ part: [Double], global: [Double], samples: Int, factor: Double,
                                       minCount: Double = 100) -> String? {
        guard part.count % 3 == 0, global.isEmpty || global.count == part.count else {
            return "scaler has \(part.count) moments, the cluster's has \(global.count)"
        }
        guard part.allSatisfy(\.isFinite) else { return "scaler moments contain NaN or infinity" }
        let w = part.count / 3
        for i in 0..<w {
            let n = part[i], s1 = part[w + i], s2 = part[2 * w + i]
            // An honest part is a difference of two moment vectors that went through Welford
            // (means and variances) in between, so an input that saw only zeros comes out a
            // few ulps of the cluster's sums away from 0, either side. Rejecting those (they
            // were most of a fast-syncing cluster's deltas) lost the scaler's counts and cost
            // Phishing 1.5 points of accuracy. Within this tolerance a sum counts as 0.
            let tol1 = 1e-9 * max(1, abs(global.isEmpty ? s1 : global[w + i]))
            let tol2 = 1e-9 * max(1, abs(global.isEmpty ? s2 : global[2 * w + i]))
            guard n > -0.5, s2 >= -tol2 else { return "input \(i): negative count or sum of squares" }
            guard n <= Double(samples) + 0.5 else { return "input \(i): counted \(n) times in a delta of \(samples) samples" }
            if n < 0.5 {
                guard abs(s1) <= tol1, abs(s2) <= tol2 else { return "input \(i): sums without a count" }
                continue
            }
            guard s2 * n + 1e-9 * max(1, s2 * n) + n * tol2 + 2 * abs(s1) * tol1 >= s1 * s1 else { return "input \(i): sum of squares below what its sum allows" }
            guard !global.isEmpty else { continue }
            let gn = global[i]
            guard gn >= minCount else { continue }
            let gMean = global[w + i] / gn
            let gSquare = global[2 * w + i] / gn
            let gSd = (max(0, gSquare - gMean * gMean)).squareRoot()
            let mean = s1 / n
            let scale = max(gSd, 1e-6 * max(1, abs(gMean)))
            if abs(mean - gMean) > factor * scale && abs(mean - gMean) > 1e-9 {
                return "input \(i): mean \(mean) is \((abs(mean - gMean) / scale * 10).rounded() / 10) standard deviations from the cluster's \(gMean)"
            }
            if s2 / n > factor * factor * max(gSquare, 1e-12) {
                return "input \(i): mean square \(s2 / n) is over \(factor * factor) × the cluster's \(gSquare)"
            }
        }
        return nil
    }
}
