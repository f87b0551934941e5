import Config
import Kafka

/// The settings of a worker's Kafka clients, from the cluster's `[kafka]` section and the
/// bootstrap the coordinator hands out. Pure: what the worker would run with, testable.
struct WorkerKafkaSettings {
    var consumer: KafkaClientConfig
    var producer: KafkaClientConfig

    init(_ k: ClusterConfig.KafkaSection, bootstrap: String) {
        var common = KafkaClientConfig(k.client)
        common["bootstrap.servers"] = bootstrap
        var cc = KafkaConsumer.withDefaults(common)
        if k.isEmbedded && cc["fetch.wait.max.ms"] == nil && k.consumer["fetch.wait.max.ms"] == nil {
            // The mock broker answers fetches slowly with librdkafka's default (500 ms).
            cc["fetch.wait.max.ms"] = "5"
        }
        cc["group.id"] = k.groupId
        for (key, v) in k.consumer { cc[key] = v }
        var pc = common
        // Larger batches: on the embedded broker produce throughput rises ~50 % from 5 to
        // 20 ms (measured by `tributary bench`); the latency cost is bounded by it.
        if pc["linger.ms"] == nil && k.producer["linger.ms"] == nil { pc["linger.ms"] = "20" }
        for (key, v) in k.producer { pc[key] = v }
        consumer = cc
        producer = pc
    }
}
