import Foundation
import Config
import Kafka

/// The shell of `Leadership`: a consumer in the group "<group_id>.coordinators" subscribed to
/// the one-partition election topic (Kafka's group protocol picks the holder and detects its
/// death within `election_session_ms`), a producer for claim records, and a reader of the
/// newest claim. No home-made consensus: Kafka decides, the claim's offset is the epoch.
public final class CoordinatorElection {
    let topic: String
    let endpoint: String
    let member: KafkaConsumer
    let producer: KafkaProducer
    let clientConfig: KafkaClientConfig
    public private(set) var leadership = Leadership()

    public init(config: ClusterConfig, endpoint: String) throws(KafkaError) {
        topic = config.electionTopic
        self.endpoint = endpoint
        var c = KafkaClientConfig(config.kafka.client)
        c["bootstrap.servers"] = config.kafka.bootstrap
        clientConfig = c
        producer = try KafkaProducer(config: c)
        if ((try? producer.partitionCount(topic: topic, timeoutMs: 3000)) ?? 0) == 0 {
            try? producer.createTopic(topic, partitions: 1)
        }
        var m = c
        m["group.id"] = "\(config.kafka.groupId).coordinators"
        m["session.timeout.ms"] = String(config.coordinator.electionSessionMs)
        m["heartbeat.interval.ms"] = String(max(50, config.coordinator.electionSessionMs / 5))
        m["auto.offset.reset"] = "latest"
        // Incremental rebalancing: a standby joining (or a restarted one) must not take the
        // partition away from the active coordinator even for a moment, as the eager protocol
        // does at every membership change (it revokes everything first).
        m["partition.assignment.strategy"] = "cooperative-sticky"
        member = try KafkaConsumer(config: m, batchSize: 16)
        try member.subscribe([topic])
    }

    /// Serves the group protocol and reports whether this process holds the partition.
    public func poll() -> [Leadership.Directive] {
        member.poll(timeoutMs: 0) { _ in }
        let holds = member.assignment().contains { $0.topic == topic && $0.partition == 0 }
        return leadership.holding(holds)
    }

    /// Writes the claim record ({"endpoint": ..., "claimed_ms": ...}) and waits for it; the
    /// epoch is its offset + 1.
    public func claim() throws(KafkaError) -> [Leadership.Directive] {
        let body = "{\"endpoint\": \"\(endpoint)\", \"claimed_ms\": \(Int64(Date().timeIntervalSince1970 * 1000))}"
        try producer.produce(topic: topic, partition: 0, key: Array("active".utf8), value: Array(body.utf8), tag: 1)
        var report: DeliveryReport?
        _ = producer.drain(timeoutMs: 10_000) { report = $0 }
        guard let r = report, r.error == nil else {
            throw report?.error ?? KafkaError(.configuration, message: "the claim on \(topic) was not delivered within 10 s")
        }
        return leadership.claimed(offset: r.offset)
    }

    /// The newest claim on the election topic: who is active, with which epoch.
    public func readActive() -> (endpoint: String, epoch: Int64)? {
        var c = clientConfig
        c["group.id"] = "tributary-election-reader"
        guard let reader = try? KafkaConsumer(config: c, batchSize: 16),
              let wm = try? reader.queryWatermarks(TopicPartition(topic, 0), timeoutMs: 2000), wm.high > wm.low,
              (try? reader.assign([TopicPartition(topic, 0)], start: .offset(wm.high - 1))) != nil else { return nil }
        var found: (String, Int64)?
        let deadline = Date().addingTimeInterval(2)
        while found == nil && Date() < deadline {
            reader.poll(timeoutMs: 100) { r in
                guard let j = try? JSONSerialization.jsonObject(with: Data(r.value)) as? [String: Any],
                      let ep = j["endpoint"] as? String else { return }
                found = (ep, r.offset + 1)
            }
        }
        if let (ep, e) = found { leadership.saw(endpoint: ep, epoch: e) }
        return leadership.active
    }
}
