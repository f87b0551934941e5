/// A configuration problem, naming where and what.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var line: Int
    public var key: String?
    public var message: String
    public init(line: Int, key: String? = nil, _ message: String) {
        self.line = line
        self.key = key
        self.message = message
    }
    public var description: String {
        let at = line > 0 ? "line \(line): " : ""
        if let key { return "\(at)'\(key)': \(message)" }
        return "\(at)\(message)"
    }
}
