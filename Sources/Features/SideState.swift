/// State a partition keeps in its changelog for a stage beside the features (the delayed-label
/// join): records opaque here, under their own key tags, and the position of that stage's own
/// input (the labels topic) they cover. Written and restored with the features, in the same
/// captures, so both describe one moment of the partition.
public struct SideState: Sendable, Equatable {
    /// Changelog key (tag byte first) -> value, as last captured.
    public var records: [[UInt8]: [UInt8]] = [:]
    /// The side input's next offset the records cover (-1: none recorded).
    public var offset: Int64 = -1
    /// The side stage's clocks (event time of the input and of the side input).
    public var eventTime = -Double.infinity
    public var sideTime = -Double.infinity
    public init() {}

    /// Key tags a side stage may use (anything else is refused on restore).
    public static let tags: Set<UInt8> = [UInt8(ascii: "p"), UInt8(ascii: "e")]
}

/// What a side stage adds to a capture: its records (all of them for a full snapshot, the
/// changes since the last capture otherwise) and its position and clocks.
public struct SideCapture {
    public var records: (_ full: Bool) -> [Changelog.Record]
    public var offset: Int64
    public var eventTime: Double
    public var sideTime: Double
    public init(offset: Int64, eventTime: Double, sideTime: Double, records: @escaping (_ full: Bool) -> [Changelog.Record]) {
        self.offset = offset
        self.eventTime = eventTime
        self.sideTime = sideTime
        self.records = records
    }
}
