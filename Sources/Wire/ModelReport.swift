import Foundation
import Config
import Models

/// One model's figures on one worker (or, in `ClusterStatus`, merged over workers).
public struct ModelReport: Sendable, Codable, Equatable {
    public var name: String
    public var evaluation: EvaluationReport
    /// Predictions of this model written to the output topic (champion, or A/B share).
    public var served: Int64
    public init(name: String, evaluation: EvaluationReport, served: Int64) {
        self.name = name
        self.evaluation = evaluation
        self.served = served
    }
}
