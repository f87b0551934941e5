import Features

/// Where each model's parameters and scaler moments sit in the cluster's one parameter
/// vector. The sync machinery (deltas, robust averaging, merge, checkpoints) sees a single
/// vector, so several models cost nothing new there: they are concatenated. Scaler moments
/// are laid out [counts | Σx | Σx²] over all models' inputs, as one `StandardScaler`'s are,
/// so the robust bounds on them apply unchanged.
public struct ModelGeometry: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        public var name: String
        /// Indices into the pipeline's dense features; nil = all of them, in order.
        public var denseIndices: [Int]?
        public var dense: Int
        public var hashed: Int
        public var parameterOffset: Int
        public var parameterCount: Int
        /// Inputs with online scaling (0 without an online scaler).
        public var scalerOffset: Int
        public var scalerWidth: Int
        public var parameterRange: Range<Int> { parameterOffset..<(parameterOffset + parameterCount) }
    }
    public let parts: [Part]
    public let parameterCount: Int
    public let scalerWidth: Int

    public init(_ layout: ModelLayout, features: FeatureSpec) {
        let names = features.denseNames
        var parts: [Part] = []
        var p = 0, s = 0
        for m in layout.models {
            let idx: [Int]? = m.features.isEmpty || m.features == names ? nil : m.features.compactMap { names.firstIndex(of: $0) }
            let dense = idx?.count ?? names.count
            let hashed = m.hashed ? features.hashedWidth : 0
            let count = m.spec.parameterCount(inputs: dense + hashed)
            let scaled = m.spec.standardize && m.spec.learns && m.spec.pretrained?.scaler == nil ? dense : 0
            parts.append(Part(name: m.name, denseIndices: idx, dense: dense, hashed: hashed,
                              parameterOffset: p, parameterCount: count, scalerOffset: s, scalerWidth: scaled))
            p += count
            s += scaled
        }
        self.parts = parts
        parameterCount = p
        scalerWidth = s
    }

    public func parameters(_ all: [Double], of i: Int) -> ArraySlice<Double> {
        all[parts[i].parameterRange]
    }

    /// `all` with model `i`'s parameters replaced by `p` (import into one model, a weights
    /// file for the champion): the other models keep theirs.
    public func replacing(_ all: [Double], of i: Int, with p: [Double]) -> [Double] {
        var out = all
        out.replaceSubrange(parts[i].parameterRange, with: p)
        return out
    }

    /// The cluster layout [counts | Σx | Σx²] from each model's own (`StandardScaler.moments`).
    public func joinScaler(_ perModel: [[Double]]) -> [Double] {
        guard scalerWidth > 0 else { return [] }
        var out = [Double](repeating: 0, count: 3 * scalerWidth)
        for (i, part) in parts.enumerated() where part.scalerWidth > 0 && perModel[i].count == 3 * part.scalerWidth {
            for k in 0..<3 {
                for j in 0..<part.scalerWidth { out[k * scalerWidth + part.scalerOffset + j] = perModel[i][k * part.scalerWidth + j] }
            }
        }
        return out
    }

    /// Model `i`'s moments out of the cluster layout (empty: it has no online scaler).
    public func scaler(_ all: [Double], of i: Int) -> [Double] {
        let part = parts[i]
        guard part.scalerWidth > 0, all.count == 3 * scalerWidth else { return [] }
        var out = [Double](repeating: 0, count: 3 * part.scalerWidth)
        for k in 0..<3 {
            for j in 0..<part.scalerWidth { out[k * part.scalerWidth + j] = all[k * scalerWidth + part.scalerOffset + j] }
        }
        return out
    }

    /// Carries parameters and scaler moments from one layout to another (deploy, retire):
    /// a model in both keeps its own; new model `i` starts from `fresh(i)`: its weights,
    /// optionally followed by its scaler's raw moments (as `StandardScaler.moments`), or
    /// empty for zeros and an empty scaler.
    public static func remap(parameters: [Double], scaler: [Double], from old: (ModelLayout, ModelGeometry),
                             to new: (ModelLayout, ModelGeometry),
                             fresh: (Int) -> [Double]) -> (parameters: [Double], scaler: [Double]) {
        var params: [Double] = []
        params.reserveCapacity(new.1.parameterCount)
        var perModel: [[Double]] = []
        for (i, m) in new.0.models.enumerated() {
            let part = new.1.parts[i]
            if let j = old.0.models.firstIndex(where: { $0.sameModel(as: m) }), parameters.count == old.1.parameterCount {
                params += old.1.parameters(parameters, of: j)
                perModel.append(old.1.scaler(scaler, of: j))
            } else {
                let f = fresh(i)
                let warm = f.count == part.parameterCount || f.count == part.parameterCount + 3 * part.scalerWidth
                params += warm ? Array(f.prefix(part.parameterCount)) : [Double](repeating: 0, count: part.parameterCount)
                perModel.append(warm && f.count > part.parameterCount ? Array(f.suffix(3 * part.scalerWidth))
                                : [Double](repeating: 0, count: 3 * part.scalerWidth))
            }
        }
        return (params, new.1.scalerWidth == 0 ? [] : new.1.joinScaler(perModel))
    }
}
