/// One labelled input a worker kept for the coordinator's reference model (the N-vs-1
/// monitor, `[model] reference_sample`): the champion's inputs as it saw them (dense, then
/// hashed pairs), the label, and what the cluster's model predicted before learning from it.
/// Short keys: a delta carries up to `ReferenceSample.perDelta` of them in its JSON head.
public struct ReferenceSample: Sendable, Codable, Equatable {
    public var x: [Double]
    public var i: [UInt32]?
    public var v: [Double]?
    public var y: Double
    public var o: [Double]

    public static let perDelta = 500

    public init(dense: [Double], indices: [UInt32] = [], values: [Double] = [], label: Double, output: [Double]) {
        x = dense
        i = indices.isEmpty ? nil : indices
        v = values.isEmpty ? nil : values
        y = label
        o = output
    }
}
