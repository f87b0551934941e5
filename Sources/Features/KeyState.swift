/// One key's state: one window state per configured aggregate, and when it was last seen
/// (event time) for the TTL.
public struct KeyState: Sendable, Equatable {
    public var lastSeen: Double
    public var windows: [WindowState]
}
