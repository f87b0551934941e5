import Foundation
import Config
import Models

/// Frame 2 carries the parameters (little-endian float64); the JSON says how many.
public struct ModelDelta: Sendable, Codable, Equatable {
    public var workerId: String
    /// Per-worker sequence number: the update that merged it names it back.
    public var seq: Int
    public var baseVersion: Int
    public var samples: Int
    /// Every coordinate's change (dense), or only those at `indices` (sparse).
    public var delta: [Double]
    /// A sparse delta as it came off the wire: the touched coordinates, increasing. Kept
    /// sparse through the merge (a 2^20-weight model with 1 % touched: 10,486 pairs, not an
    /// 8 MiB vector per worker; issue 28).
    public var indices: [UInt32]?
    /// The dense width (the model's parameter count).
    public var width: Int
    /// A dense delta sent compressed: `delta` holds the values `compressed` decodes to (what
    /// the coordinator merges; the worker keeps the rest for its next delta).
    public var compression: DeltaCompression?
    public var compressed: [UInt8]?
    /// A dense delta as received: its values still in the frames (`delta` is then empty).
    public var packed: PackedValues?
    /// What the worker's input scaler saw since its base: per dense feature, the change in
    /// (n, Σx, Σx²). Raw moments add up, so the coordinator sums them into one cluster-wide
    /// scaler (empty: the model has no online scaler).
    public var scaler: [Double] = []
    /// Labelled inputs sampled for the coordinator's reference model (`reference_sample`).
    public var reference: [ReferenceSample]?
    /// Samples the worker could not keep since its last delta (over `ReferenceSample.perDelta`).
    public var referenceDropped: Int?
    /// A host's deltas combined by its relay (`DeltaCombiner`): worker id → the `seq` of its
    /// delta inside this one. The version that merges it names each of them back.
    public var members: [String: Int]?
    public init(workerId: String, seq: Int, baseVersion: Int, samples: Int, delta: [Double], scaler: [Double] = []) {
        self.scaler = scaler
        self.workerId = workerId
        self.seq = seq
        self.baseVersion = baseVersion
        self.samples = samples
        self.delta = delta
        self.width = delta.count
    }

    /// A sparse delta: `values[k]` is the change of coordinate `indices[k]`.
    public init(workerId: String, seq: Int, baseVersion: Int, samples: Int, width: Int, indices: [UInt32], values: [Double],
                scaler: [Double] = []) {
        self.init(workerId: workerId, seq: seq, baseVersion: baseVersion, samples: samples, delta: values, scaler: scaler)
        self.indices = indices
        self.width = width
    }

    /// Every coordinate, zeros included.
    public var dense: [Double] {
        if let packed { return packed.decoded() }
        guard let indices else { return delta }
        var out = [Double](repeating: 0, count: width)
        for (k, i) in indices.enumerated() where Int(i) < width { out[Int(i)] = delta[k] }
        return out
    }

    /// The merge's view of it.
    public var parameterDelta: ParameterDelta {
        ParameterDelta(worker: workerId, baseVersion: baseVersion, samples: samples, delta: delta, indices: indices, width: width,
                       packed: packed)
    }

    /// Equal when they carry the same change, sparse or dense.
    public static func == (a: ModelDelta, b: ModelDelta) -> Bool {
        a.workerId == b.workerId && a.seq == b.seq && a.baseVersion == b.baseVersion && a.samples == b.samples && a.members == b.members
            && a.scaler == b.scaler && a.width == b.width
            && (a.indices == b.indices && a.packed == nil && b.packed == nil ? a.delta == b.delta : a.dense == b.dense)
    }

    enum CodingKeys: String, CodingKey { case workerId, seq, baseVersion, samples, scaler, reference, referenceDropped, members }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        scaler = try c.decodeIfPresent([Double].self, forKey: .scaler) ?? []
        workerId = try c.decode(String.self, forKey: .workerId)
        seq = try c.decode(Int.self, forKey: .seq)
        baseVersion = try c.decode(Int.self, forKey: .baseVersion)
        samples = try c.decode(Int.self, forKey: .samples)
        reference = try c.decodeIfPresent([ReferenceSample].self, forKey: .reference)
        referenceDropped = try c.decodeIfPresent(Int.self, forKey: .referenceDropped)
        members = try c.decodeIfPresent([String: Int].self, forKey: .members)
        delta = []
        width = 0
    }
}
