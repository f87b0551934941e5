import Foundation
import Config
import Models

/// A global model version. Frame 2 carries the parameters.
public struct ModelUpdate: Sendable, Codable, Equatable {
    public var version: Int
    /// worker id -> the delta `seq` merged into this version.
    public var contributions: [String: Int]
    public var parameters: [Double]
    /// Set by import and rollback: workers drop their local progress and take these exact
    /// parameters (a rollback that kept local progress would keep what was rolled back).
    public var reset: Bool = false
    /// The feature names the parameters belong to (in answers to `export`).
    public var features: [String] = []
    /// The cluster-wide scaler's raw moments (see `ModelDelta.scaler`); empty if none.
    public var scaler: [Double] = []
    /// The models this version's parameters are laid out for and the champion from this
    /// version on: a promotion takes effect at a version, the same one on every worker. A
    /// change of models (deploy, retire) comes with `reset`. nil: unchanged.
    public var layout: ModelLayout?
    /// Sent as a difference (`VersionDiff`) from version `diffFrom`'s weights, which the
    /// receiver must hold; `parameters` is then empty until the receiver applies `diff`
    /// (`WorkerSession.expand`). `width`: the weights' count.
    public var diffFrom: Int?
    public var width: Int?
    public var diff: VersionDiff?
    public init(version: Int, contributions: [String: Int], parameters: [Double], reset: Bool = false, features: [String] = [],
                scaler: [Double] = [], layout: ModelLayout? = nil) {
        self.scaler = scaler
        self.layout = layout
        self.version = version
        self.contributions = contributions
        self.parameters = parameters
        self.reset = reset
        self.features = features
    }
    enum CodingKeys: String, CodingKey { case version, contributions, reset, features, scaler, layout, diffFrom, width, diffKind }
    public func encode(to e: Encoder) throws {
        var c = e.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(contributions, forKey: .contributions)
        try c.encode(reset, forKey: .reset)
        try c.encode(features, forKey: .features)
        try c.encode(scaler, forKey: .scaler)
        try c.encodeIfPresent(layout, forKey: .layout)
        try c.encodeIfPresent(diffFrom, forKey: .diffFrom)
        try c.encodeIfPresent(width, forKey: .width)
        try c.encodeIfPresent(diff?.kind, forKey: .diffKind)
    }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        scaler = try c.decodeIfPresent([Double].self, forKey: .scaler) ?? []
        layout = try c.decodeIfPresent(ModelLayout.self, forKey: .layout)
        version = try c.decode(Int.self, forKey: .version)
        contributions = try c.decode([String: Int].self, forKey: .contributions)
        reset = try c.decodeIfPresent(Bool.self, forKey: .reset) ?? false
        features = try c.decodeIfPresent([String].self, forKey: .features) ?? []
        parameters = []
        diffFrom = try c.decodeIfPresent(Int.self, forKey: .diffFrom)
        width = try c.decodeIfPresent(Int.self, forKey: .width)
        diffKind = try c.decodeIfPresent(String.self, forKey: .diffKind)
    }
    /// The diff's kind as read off the wire (the codec then reads its frames).
    var diffKind: String?
}
