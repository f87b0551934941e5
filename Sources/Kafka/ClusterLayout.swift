/// Brokers and topics as a cluster's metadata describes them.
public struct ClusterLayout: Sendable, Equatable {
    public struct Topic: Sendable, Equatable {
        public var partitions: Int
        /// The smallest replica count over the topic's partitions.
        public var replicas: Int
    }

    public var brokers: Int
    public var topics: [String: Topic] = [:]

    public init(brokers: Int) { self.brokers = brokers }
}
