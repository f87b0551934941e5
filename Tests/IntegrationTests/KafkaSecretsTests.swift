import Foundation
import Testing
import Kafka

/// Kafka settings may name their value instead of holding it (`${env:NAME}`, `${file:PATH}`),
/// so secrets stay out of cluster.conf; a missing one is an error naming where it was looked
/// for, never showing a value.
@Suite("Kafka secrets")
struct KafkaSecretsTests {
    @Test("${env:…} and ${file:…} values are read when the client is made; a missing one names the variable or file")
    func references() throws {
        let broker = try EmbeddedBroker(brokers: 1)
        try broker.createTopic("secrets", partitions: 3)
        setenv("TRIBUTARY_TEST_BOOTSTRAP", broker.bootstrap, 1)
        let viaEnv = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": "${env:TRIBUTARY_TEST_BOOTSTRAP}", "group.id": "secrets-env"]))
        #expect(try viaEnv.partitionCount(topic: "secrets") == 3)
        let path = NSTemporaryDirectory() + "tributary-secret-\(getpid())"
        try (broker.bootstrap + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let viaFile = try KafkaConsumer(config: KafkaClientConfig([
            "bootstrap.servers": "${file:\(path)}", "group.id": "secrets-file"]))
        #expect(try viaFile.partitionCount(topic: "secrets") == 3)
        do {
            _ = try KafkaProducer(config: KafkaClientConfig(["sasl.password": "${env:TRIBUTARY_TEST_UNSET_SECRET}"]))
            Issue.record("a missing secret was accepted")
        } catch {
            #expect(error.description == "Kafka setting 'sasl.password': environment variable TRIBUTARY_TEST_UNSET_SECRET is not set")
        }
        do {
            _ = try KafkaProducer(config: KafkaClientConfig(["sasl.password": "${file:/nonexistent/secret}"]))
            Issue.record("a missing secret file was accepted")
        } catch {
            #expect(error.description.hasPrefix("Kafka setting 'sasl.password': cannot read /nonexistent/secret"))
        }
    }
}
