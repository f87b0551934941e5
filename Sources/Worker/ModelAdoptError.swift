/// Why a model version cannot be adopted by this worker (said in its log; the worker keeps
/// the version it has).
public struct ModelAdoptError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
