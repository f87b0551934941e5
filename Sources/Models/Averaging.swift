/// One worker's contribution to a sync round: what its parameters moved since the global
/// version it last adopted, and how many labelled samples moved them.
public struct ParameterDelta: Sendable, Equatable, Codable {
    public var worker: String
    public var baseVersion: Int
    public var samples: Int
    public var delta: [Double]
    public init(worker: String, baseVersion: Int, samples: Int, delta: [Double]) {
        self.worker = worker
        self.baseVersion = baseVersion
        self.samples = samples
        self.delta = delta
    }
}

public enum DeltaRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongDimension(expected: Int, got: Int)
    case notFinite
    case noSamples
    public var description: String {
        switch self {
        case .wrongDimension(let e, let g): "delta has \(g) parameters, the model has \(e)"
        case .notFinite: "delta contains NaN or infinity"
        case .noSamples: "delta carries no samples"
        }
    }
}

/// The merge rule (sample-weighted federated averaging):
///   w(v+1) = w(v) + Σ_i n_i · Δ_i / Σ_i n_i
/// where Δ_i = w_local,i − w(base_i) and n_i the labelled samples behind it. A delta taken
/// against an older base is still applied to the newest global (it is the worker's
/// progress, and dropping it would lose learning); deltas that are malformed are rejected.
public enum ModelAveraging {
    public static func validate(_ d: ParameterDelta, width: Int) throws(DeltaRejection) {
        guard d.delta.count == width else { throw .wrongDimension(expected: width, got: d.delta.count) }
        guard d.samples > 0 else { throw .noSamples }
        guard d.delta.allSatisfy(\.isFinite) else { throw .notFinite }
    }

    /// New global parameters from the current ones and accepted deltas.
    /// - `.average`: w + Σ nᵢΔᵢ / Σ nᵢ (federated averaging; robust, but K workers together
    ///   move the model about as far as one of them: on short streams they learn K× slower).
    /// - `.sum`: w + Σ Δᵢ (every worker's progress applied in full: with small steps this is
    ///   sequential SGD over all their samples, so short streams learn as fast as one worker
    ///   that saw everything; large learning rates can overshoot).
    public static func merge(global: [Double], deltas: [ParameterDelta], rule: MergeRule = .average) -> [Double] {
        let total = deltas.reduce(0) { $0 + $1.samples }
        guard total > 0 else { return global }
        var out = global
        for d in deltas {
            let w = rule == .sum ? 1 : Double(d.samples) / Double(total)
            for i in out.indices { out[i] += w * d.delta[i] }
        }
        return out
    }
}

public enum MergeRule: String, Sendable, Codable, CaseIterable {
    case average, sum
}

/// How outlying deltas are treated before the merge (issue 10: one worker must not be able
/// to destroy the global model).
public struct RobustPolicy: Sendable, Equatable, Codable {
    public enum Mode: String, Sendable, Equatable, Codable, CaseIterable {
        /// Scale an outlying delta down to the limit, cap its samples likewise.
        case clip
        /// Drop an outlying delta (counted against its worker).
        case reject
        case off
    }
    public var mode: Mode
    /// A delta whose L2 norm exceeds `factor` × the reference norm is outlying; claimed
    /// samples above `factor` × the reference samples are capped.
    public var factor: Double
    public init(mode: Mode = .clip, factor: Double = 3) {
        self.mode = mode
        self.factor = factor
    }
}

/// What the robust step did to one delta.
public enum RobustAction: Sendable, Equatable {
    case accepted
    case clipped(norm: Double, limit: Double)
    case samplesCapped(claimed: Int, cap: Int)
    case rejected(norm: Double, limit: Double)
}

extension ModelAveraging {
    /// Clips or rejects outlying deltas before `merge`. The reference is the median over this
    /// round's deltas and `history` (recently accepted ones), so a single bad worker can
    /// neither set the reference nor hide among few peers. A clipped delta can move the
    /// global model at most its share of `factor` × the reference norm.
    public static func robust(_ deltas: [ParameterDelta], history: (norms: [Double], samples: [Double]),
                              policy: RobustPolicy) -> (kept: [ParameterDelta], actions: [String: RobustAction]) {
        guard policy.mode != .off, !deltas.isEmpty else {
            return (deltas, Dictionary(deltas.map { ($0.worker, .accepted) }, uniquingKeysWith: { a, _ in a }))
        }
        let norms = deltas.map { norm($0.delta) }
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
