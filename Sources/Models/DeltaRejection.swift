public enum DeltaRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongDimension(expected: Int, got: Int)
    case notFinite
    case noSamples
    case malformedSparse
    public var description: String {
        switch self {
        case .wrongDimension(let e, let g): "delta has \(g) parameters, the model has \(e)"
        case .notFinite: "delta contains NaN or infinity"
        case .noSamples: "delta carries no samples"
        case .malformedSparse: "sparse delta indices must increase, stay below the width and match its values"
        }
    }
}
