import Features
import Models
/// What a worker needs of `cluster.conf`, sent in every welcome: the Kafka, worker, feature
/// and model sections, the models the file starts with, and logging. Not the coordinator's
/// own sections (its addresses, standby, security keys): a worker has no use for them, and
/// what it is not sent it cannot leak or come to depend on.
public struct WorkerSettings: Sendable, Codable, Equatable {
    public var cluster: ClusterConfig.ClusterSection
    public var kafka: ClusterConfig.KafkaSection
    public var worker: ClusterConfig.WorkerSection
    public var features: FeatureSpec
    public var model: ModelSpec
    /// The champion and challengers as the file starts them (`ClusterConfig.layout`).
    public var layout: ModelLayout
    /// Where challengers' predictions go ("" = not written).
    public var shadowTopic: String
    /// Labels on their own topic (`[labels]`; disabled when its topic is "").
    public var labels: LabelsSection

    public init(_ c: ClusterConfig) {
        cluster = c.cluster
        kafka = c.kafka
        worker = c.worker
        features = c.features
        model = c.model
        layout = c.layout
        shadowTopic = c.lifecycle.shadowTopic
        labels = c.labels
    }
}
