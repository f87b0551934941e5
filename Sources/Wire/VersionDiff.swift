import Models

/// A global version's weights as their difference from the version before (issue 28: every
/// worker got each version whole, 8 bytes a weight, the first limit of a big model's cluster).
/// - `changed`: the coordinates whose value changed, with their new values, exact (a hashed
///   model's version touches few coordinates).
/// - `added`: every coordinate's change, compressed (`DeltaCompression`); the receiver adds
///   the decoded values to what it holds. The sender keeps the same sum as its view of what
///   workers hold and takes the next difference from it, so what rounding held back goes out
///   with the next version (error feedback, as workers do for their deltas).
public enum VersionDiff: Sendable, Equatable {
    case changed(indices: [UInt32], values: [Double])
    case added(DeltaCompression, bytes: [UInt8])

    /// The wire's name of the kind (`diffKind` in the update's JSON).
    public var kind: String {
        switch self {
        case .changed: "changed"
        case .added(let c, _): c.rawValue
        }
    }

    /// Bytes of the parameter frames.
    public var byteCount: Int {
        switch self {
        case .changed(let i, _): 12 * i.count
        case .added(_, let b): b.count
        }
    }

    /// The smallest way from `view` (what workers hold) to `target`: the diff and the view
    /// workers will hold after applying it, or nil when the whole vector is smaller (or the
    /// widths differ). Compressed differences that do not decode finite are not used.
    public static func make(from view: [Double], to target: [Double], compression: DeltaCompression)
        -> (diff: VersionDiff, view: [Double])? {
        guard view.count == target.count, !target.isEmpty, target.count <= Int(UInt32.max) else { return nil }
        var changed = 0
        for i in target.indices where target[i].bitPattern != view[i].bitPattern { changed += 1 }
        let whole = 8 * target.count
        let compressed = compression == .none ? Int.max : compression.byteCount(target.count)
        if 12 * changed <= min(whole, compressed) {
            var indices = [UInt32](), values = [Double]()
            indices.reserveCapacity(changed)
            values.reserveCapacity(changed)
            for i in target.indices where target[i].bitPattern != view[i].bitPattern {
                indices.append(UInt32(i))
                values.append(target[i])
            }
            return (.changed(indices: indices, values: values), target)
        }
        guard compressed < whole else { return nil }
        let (bytes, decoded) = compression.encode((0..<target.count).map { target[$0] - view[$0] })
        var next = view
        for i in next.indices { next[i] += decoded[i] }
        guard next.allSatisfy(\.isFinite) else { return nil }
        return (.added(compression, bytes: bytes), next)
    }

    /// The weights after this diff, from `base` (the version it was taken against), or nil
    /// when it does not fit `base`.
    public func apply(to base: ArraySlice<Double>) -> [Double]? {
        var out = Array(base)
        switch self {
        case .changed(let indices, let values):
            guard indices.count == values.count else { return nil }
            for (k, i) in indices.enumerated() {
                guard Int(i) < out.count else { return nil }
                out[Int(i)] = values[k]
            }
        case .added(let c, let bytes):
            guard let d = c.decode(bytes, count: out.count) else { return nil }
            for i in out.indices { out[i] += d[i] }
        }
        return out
    }
}
