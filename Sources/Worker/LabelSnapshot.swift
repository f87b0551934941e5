/// What a served prediction keeps until its label comes (`[labels]`): the exact inputs it was
/// served with and what every model predicted then, so learning and metrics use the features
/// of serving time, not those of when the label arrives. One buffer for the dense inputs and
/// the models' outputs (`values`), the hashed inputs apart (empty without a hashed space).
public struct LabelSnapshot: Sendable, Equatable {
    /// The dense inputs, then each model's output (`outputWidths` of them each).
    public var values: [Double]
    public var sparseIndices: [Int32]
    public var sparseValues: [Double]
    public var denseCount: Int32
    public var served: Int16
    public var modelVersion: Int32

    public init(dense: [Double], sparseIndices: [Int], sparseValues: [Double], outputs: [[Double]], served: Int, modelVersion: Int) {
        var v = dense
        v.reserveCapacity(dense.count + outputs.reduce(0) { $0 + $1.count })
        for o in outputs { v += o }
        values = v
        self.sparseIndices = sparseIndices.map { Int32(truncatingIfNeeded: $0) }
        self.sparseValues = sparseValues
        denseCount = Int32(dense.count)
        self.served = Int16(served)
        self.modelVersion = Int32(truncatingIfNeeded: modelVersion)
    }

    public var dense: [Double] { Array(values[..<Int(denseCount)]) }

    /// Each model's output, given how many numbers each gives.
    public func outputs(widths: [Int]) -> [[Double]] {
        var at = Int(denseCount)
        return widths.map { w in
            defer { at += w }
            return Array(values[at..<min(values.count, at + w)])
        }
    }
}
