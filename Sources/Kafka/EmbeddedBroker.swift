import CKafka

/// librdkafka's mock cluster: an in-process, Kafka-protocol broker set on 127.0.0.1 that
/// other processes reach over TCP. Our embedded default and our fault injector.
/// It lives as long as this object (and its owning client handle).
public final class EmbeddedBroker {
    private let rk: OpaquePointer
    private let mc: OpaquePointer
    public let bootstrap: String
    public let brokerCount: Int

    public init(brokers: Int = 3) throws(KafkaError) {
        // A producer handle only to own the cluster; "test.mock.num.brokers" makes the
        // handle create it (and avoids librdkafka's CONFWARN about missing bootstraps).
        let conf = try KafkaClientConfig(["test.mock.num.brokers": "\(brokers)"]).makeConf()
        rk = try makeHandle(RD_KAFKA_PRODUCER, conf)
        guard let mc = rd_kafka_handle_mock_cluster(rk) else {
            rd_kafka_destroy(rk)
            throw KafkaError(.clientCreation, message: "librdkafka did not create a mock cluster")
        }
        self.mc = mc
        bootstrap = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
        brokerCount = brokers
    }

    deinit { rd_kafka_destroy(rk) }

    /// The librdkafka this process loaded, as `rd_kafka_version()` (0xMMmmrrxx): the mock
    /// cluster is librdkafka's, and a real broker may need a newer client than Debian's.
    public static var librdkafkaVersion: (number: Int32, text: String) {
        (rd_kafka_version(), String(cString: rd_kafka_version_str()))
    }

    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(mc, name, Int32(partitions), Int32(replicationFactor))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
            throw KafkaError(err, context: "create topic \(name)")
        }
    }

    // Fault injection (tests and chaos runs).
    public func setBroker(_ id: Int32, up: Bool) throws(KafkaError) {
        let err = up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "broker \(id) \(up ? "up" : "down")") }
    }

    public func setLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_partition_set_leader(mc, topic, partition, broker)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "set leader") }
    }

    public func setRtt(broker: Int32, ms: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_broker_set_rtt(mc, broker, ms)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "set rtt") }
    }
}
