/// Keys in the order written.
public struct TOMLTable: Sendable, Equatable {
    public var entries: [(key: String, node: TOMLNode)] = []
    public var line: Int = 0
    public init(line: Int = 0) { self.line = line }
    public subscript(key: String) -> TOMLNode? {
        entries.first(where: { $0.key == key })?.node
    }
    public static func == (a: Self, b: Self) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.node == $1.node }
    }
    mutating func set(_ key: String, _ node: TOMLNode) { entries.append((key, node)) }
    mutating func update(_ key: String, _ body: (inout TOMLNode) throws(ConfigError) -> Void) throws(ConfigError) {
        guard let i = entries.firstIndex(where: { $0.key == key }) else { return }
        try body(&entries[i].node)
    }
}
