/// One worker's contribution to a sync round: what its parameters moved since the global
/// version it last adopted, and how many labelled samples moved them.
public struct ParameterDelta: Sendable, Equatable {
    public var worker: String
    public var baseVersion: Int
    public var samples: Int
    /// Every coordinate's change, or (with `indices`) the changes of those coordinates only.
    public var delta: [Double]
    /// Sparse: the touched coordinates, strictly increasing, each below `width`.
    public var indices: [UInt32]?
    /// The dense width.
    public var width: Int
    /// Dense values still in their received bytes (`delta` is then empty).
    public var packed: PackedValues?
    public init(worker: String, baseVersion: Int, samples: Int, delta: [Double], indices: [UInt32]? = nil, width: Int? = nil,
                packed: PackedValues? = nil) {
        self.packed = packed
        self.worker = worker
        self.baseVersion = baseVersion
        self.samples = samples
        self.delta = delta
        self.indices = indices
        self.width = width ?? packed?.count ?? delta.count
    }

    /// How many values it carries (the merge's work).
    public var valueCount: Int { packed?.count ?? delta.count }
}
