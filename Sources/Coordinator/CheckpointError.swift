/// Why a model-topic record or checkpoint file could not be read as a checkpoint.
public struct CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
