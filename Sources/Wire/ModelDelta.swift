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
    public var delta: [Double]
    /// What the worker's input scaler saw since its base: per dense feature, the change in
    /// (n, Σx, Σx²). Raw moments add up, so the coordinator sums them into one cluster-wide
    /// scaler (empty: the model has no online scaler).
    public var scaler: [Double] = []
    public init(workerId: String, seq: Int, baseVersion: Int, samples: Int, delta: [Double], scaler: [Double] = []) {
        self.scaler = scaler
        self.workerId = workerId
        self.seq = seq
        self.baseVersion = baseVersion
        self.samples = samples
        self.delta = delta
    }
    enum CodingKeys: String, CodingKey { case workerId, seq, baseVersion, samples, scaler }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        scaler = try c.decodeIfPresent([Double].self, forKey: .scaler) ?? []
        workerId = try c.decode(String.self, forKey: .workerId)
        seq = try c.decode(Int.self, forKey: .seq)
        baseVersion = try c.decode(Int.self, forKey: .baseVersion)
        samples = try c.decode(Int.self, forKey: .samples)
        delta = []
    }
}
