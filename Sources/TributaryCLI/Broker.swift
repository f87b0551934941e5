import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

struct Broker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the embedded Kafka broker (librdkafka's mock cluster) with the topics of cluster.conf.")
    @Option(help: "Path of cluster.conf.") var config: String?
    @Option(help: "Number of brokers.") var brokers: Int?
    @Option(help: "Fault injection: take every broker down this many seconds after start.") var outageAfter: Double?
    @Option(help: "Fault injection: how long the outage lasts (seconds).") var outageSeconds: Double = 10

    func run() async throws {
        let cfg = loadConfig(config)
        let (brokers, outageAfter, outageSeconds) = (brokers, outageAfter, outageSeconds)
        let code = await LoopService.runUntilSignalled(label: "broker") { shouldStop in
            Self.serve(cfg, brokers: brokers, outageAfter: outageAfter, outageSeconds: outageSeconds, shouldStop: shouldStop)
            return 0
        }
        if code != 0 { throw ExitCode(code) }
    }

    static func serve(_ cfg: ClusterConfig, brokers: Int?, outageAfter: Double?, outageSeconds: Double, shouldStop: () -> Bool) {
        let k = cfg.kafka
        do {
            let n = brokers ?? k.embeddedBrokers
            let b = try EmbeddedBroker(brokers: n)
            for t in [k.inputTopic, k.outputTopic, k.deadLetterTopic, k.effectiveChangelogTopic, cfg.features.repartition ? k.repartitionTopic : "", cfg.labels.topic]
            where !t.isEmpty { try b.createTopic(t, partitions: k.partitions) }
            try b.createTopic(k.modelTopic, partitions: 1)
            // The coordinators' election (issue 23): one partition.
            if cfg.coordinator.electing { try b.createTopic(cfg.electionTopic, partitions: 1) }
            say("bootstrap \(b.bootstrap)")
            FileHandle.standardError.write(Data("embedded broker running (\(k.partitions) partitions per topic); Ctrl-C stops it\n".utf8))
            let start = Clock.nowMs()
            var down = false, done = outageAfter == nil
            while !shouldStop() {
                usleep(100_000)
                guard !done, let after = outageAfter else { continue }
                let t = Double(Clock.nowMs() - start) / 1000
                if !down && t >= after {
                    for id in 1...n { try b.setBroker(Int32(id), up: false) }
                    down = true
                    FileHandle.standardError.write(Data("fault injection: all \(n) brokers down for \(outageSeconds) s\n".utf8))
                } else if down && t >= after + outageSeconds {
                    for id in 1...n { try b.setBroker(Int32(id), up: true) }
                    done = true
                    FileHandle.standardError.write(Data("fault injection: brokers up again\n".utf8))
                }
            }
        } catch { fail("\(error)") }
    }
}
