/// The robust step's memory (`ModelAveraging.robust`): the norms and sample counts of the
/// last `size` deltas it kept, the reference a round's deltas are judged against beside their
/// own. Kept alike by the coordinator's aggregator and by each host's relay.
public struct RobustHistory: Sendable, Equatable {
    public static let size = 32
    public private(set) var norms: [Double] = []
    public private(set) var samples: [Double] = []

    public init() {}

    /// As `ModelAveraging.robust` takes it.
    public var reference: (norms: [Double], samples: [Double]) { (norms, samples) }

    /// A delta kept by the robust step: its norm after any clipping, its counted samples.
    public mutating func record(norm: Double, samples n: Int) {
        norms.append(norm)
        samples.append(Double(n))
        if norms.count > Self.size { norms.removeFirst(norms.count - Self.size) }
        if samples.count > Self.size { samples.removeFirst(samples.count - Self.size) }
    }

    public mutating func removeAll() {
        norms.removeAll()
        samples.removeAll()
    }
}
