import Foundation
import Logging
import Config
import Kafka
import Models
import Wire
import ZeroMQ
import Runtime

/// What the model topic (and checkpoint file) holds for each global version (stored in the
/// binary form of `ModelCheckpoint+Binary`, split by `ModelStore`).
public struct ModelCheckpoint: Codable, Sendable, Equatable {
    public var version: Int
    public var parameters: [Double]
    /// The feature names the parameters belong to (a checkpoint of another spec is not used).
    public var features: [String]
    public var wallMs: Int64
    /// The cluster-wide scaler's raw moments at this version (absent in older checkpoints).
    public var scaler: [Double]?
    /// The models the parameters are laid out for (absent: the config's one model).
    public var layout: ModelLayout?

    public init(version: Int, parameters: [Double], features: [String], wallMs: Int64, scaler: [Double]? = nil, layout: ModelLayout? = nil) {
        self.version = version
        self.parameters = parameters
        self.features = features
        self.wallMs = wallMs
        self.scaler = scaler
        self.layout = layout
    }
}
