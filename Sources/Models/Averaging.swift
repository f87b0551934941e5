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
    public static func merge(global: [Double], deltas: [ParameterDelta]) -> [Double] {
        let total = deltas.reduce(0) { $0 + $1.samples }
        guard total > 0 else { return global }
        var out = global
        for d in deltas {
            let w = Double(d.samples) / Double(total)
            for i in out.indices { out[i] += w * d.delta[i] }
        }
        return out
    }
}
