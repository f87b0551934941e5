import Foundation
import Config
import Models

/// A model in the cluster's status: its role and figures merged over workers.
public struct ModelStatus: Sendable, Codable, Equatable {
    public var name: String
    public var champion: Bool
    public var abShare: Double
    public var features: Int
    public var labelled: Int64 = 0
    public var served: Int64 = 0
    public var metrics: [String: Double] = [:]
    public var windowMetrics: [String: Double] = [:]
    public init(name: String, champion: Bool, abShare: Double, features: Int) {
        self.name = name
        self.champion = champion
        self.abShare = abShare
        self.features = features
    }
}
