/// One key's state: one window state per configured aggregate, and when it was last seen
/// (event time) for the TTL.
public struct KeyState: Sendable, Equatable {
    public var lastSeen: Double
    public var windows: [WindowState]
    /// Changed since the partition's last changelog capture (then listed in
    /// `PartitionState.dirtyKeys`). A flag here, set through the look-up the event already
    /// makes, instead of a set insert per event: hashing the key a second time per record
    /// showed in profiles (issue 24). Not part of the value.
    var dirty = false

    init(lastSeen: Double, windows: [WindowState]) {
        self.lastSeen = lastSeen
        self.windows = windows
    }

    public static func == (a: KeyState, b: KeyState) -> Bool { a.lastSeen == b.lastSeen && a.windows == b.windows }
}
