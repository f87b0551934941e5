/// Which coordinator is active (issue 23), as a pure state machine: Kafka's group protocol
/// says whether this process holds the election topic's partition; holding it, the process
/// claims an epoch (a record on that partition: the epoch is its offset + 1, so it grows at
/// every takeover) and becomes active; losing it, it stops acting at once. Standbys answer
/// workers with the active coordinator's address.
public struct Leadership: Sendable, Equatable {
    public enum Role: String, Sendable, Equatable { case standby, claiming, active, deposed }

    public enum Directive: Sendable, Equatable {
        /// Write the claim record; report its offset with `claimed`.
        case claim
        case becomeActive(epoch: Int64)
        /// The partition is gone (another coordinator holds it, or we left the group): stop
        /// acting now; the process exits and comes back as a standby.
        case stepDown(epoch: Int64)
    }

    public private(set) var role = Role.standby
    public private(set) var epoch: Int64 = 0
    /// The newest active coordinator seen on the election topic (as a standby).
    public private(set) var active: (endpoint: String, epoch: Int64)? = nil

    public init() {}

    public static func == (a: Leadership, b: Leadership) -> Bool {
        a.role == b.role && a.epoch == b.epoch && a.active?.endpoint == b.active?.endpoint && a.active?.epoch == b.active?.epoch
    }

    /// After each poll of the election group: whether this process holds the partition.
    public mutating func holding(_ holds: Bool) -> [Directive] {
        switch (role, holds) {
        case (.standby, true):
            role = .claiming
            return [.claim]
        case (.claiming, false), (.active, false):
            let was = role
            role = .deposed
            return was == .active ? [.stepDown(epoch: epoch)] : [.stepDown(epoch: 0)]
        default:
            return []
        }
    }

    /// The claim record was written at `offset`.
    public mutating func claimed(offset: Int64) -> [Directive] {
        guard role == .claiming else { return [] }
        role = .active
        epoch = offset + 1
        return [.becomeActive(epoch: epoch)]
    }

    /// The election topic's newest claim (read by standbys to redirect workers).
    public mutating func saw(endpoint: String, epoch: Int64) {
        if epoch >= (active?.epoch ?? 0) { active = (endpoint, epoch) }
    }
}
