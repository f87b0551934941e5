/// Why a weights file cannot be used, naming the field.
public struct WeightsFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
