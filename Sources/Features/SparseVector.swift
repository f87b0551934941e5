/// Sparse model inputs: (index into the full input vector, value) pairs; reused.
public struct SparseVector: Sendable, Equatable {
    public var indices: [Int] = []
    public var values: [Double] = []
    public init() {}
    public mutating func removeAll() {
        indices.removeAll(keepingCapacity: true)
        values.removeAll(keepingCapacity: true)
    }
    public mutating func append(_ i: Int, _ v: Double) {
        indices.append(i)
        values.append(v)
    }
    public var count: Int { indices.count }
}
