/// What a produced record was, told back by its delivery report. librdkafka carries one
/// pointer-sized opaque per record, so the tag packs into an `Int` (no allocation per record);
/// this type is the only place that knows the layout:
///   bits 62-63 kind · 48-61 input partition (< 16,384; the config allows 10,000) · 45-47 run
///   generation · 0-44 offset (3.5e13: a year of a million records a second, per partition).
/// The generation tells a report for a partition's earlier run (revoked, rewound, draining)
/// from one for its current run.
public struct DeliveryTag: Sendable, Equatable {
    public enum Kind: Int, Sendable {
        /// A prediction or dead letter of input `offset`: the offset waits for it.
        case output = 0
        /// A record of a feature-state capture.
        case changelog = 1
        /// A challenger's prediction (shadow topic): counted, not waited for.
        case shadow = 2
        /// A dead letter of a label record (`[labels]`): counted, not waited for.
        case label = 3
    }

    public let kind: Kind
    public let partition: Int32
    public let generation: Int
    public let offset: Int64

    public static let maxOffset: Int64 = 1 << 45 - 1

    public init(_ kind: Kind, partition: Int32, generation: Int, offset: Int64 = 0) {
        self.kind = kind
        self.partition = partition
        self.generation = Self.generation(of: generation)
        self.offset = offset
    }

    /// The generation a run with this token stamps on its records (the token's low bits).
    public static func generation(of token: Int) -> Int { token & 0x7 }

    public init(rawValue: Int) {
        let u = UInt64(bitPattern: Int64(rawValue))
        kind = Kind(rawValue: Int(u >> 62)) ?? .output
        partition = Int32((u >> 48) & 0x3FFF)
        generation = Int((u >> 45) & 0x7)
        offset = Int64(u & UInt64(Self.maxOffset))
    }

    public var rawValue: Int {
        let u = UInt64(kind.rawValue) << 62 | UInt64(partition & 0x3FFF) << 48 | UInt64(generation & 0x7) << 45
            | UInt64(offset & Self.maxOffset)
        return Int(Int64(bitPattern: u))
    }
}
