import Foundation
import Testing
import Config
@testable import Coordinator

/// Issue 23's pure parts: the leadership state machine (Kafka says who holds the election
/// partition; the claim's offset is the epoch) and the settings an election needs.
@Suite("Coordinator election")
struct LeadershipTests {
    @Test("holding the partition: claim, then active with epoch = claim offset + 1; losing it: step down once")
    func lifecycle() {
        var l = Leadership()
        #expect(l.holding(false).isEmpty && l.role == .standby)
        #expect(l.holding(true) == [.claim] && l.role == .claiming)
        #expect(l.holding(true).isEmpty, "no second claim while the first is written")
        #expect(l.claimed(offset: 41) == [.becomeActive(epoch: 42)] && l.role == .active && l.epoch == 42)
        #expect(l.holding(true).isEmpty)
        #expect(l.holding(false) == [.stepDown(epoch: 42)] && l.role == .deposed)
        #expect(l.holding(false).isEmpty && l.holding(true).isEmpty, "a deposed coordinator never claims again (it exits)")
    }

    @Test("a claim that completes after the partition was lost does not make it active")
    func lateClaim() {
        var l = Leadership()
        _ = l.holding(true)
        #expect(l.holding(false) == [.stepDown(epoch: 0)])
        #expect(l.claimed(offset: 7).isEmpty && l.role == .deposed)
    }

    @Test("a standby keeps the newest active coordinator it saw")
    func newestActive() {
        var l = Leadership()
        l.saw(endpoint: "tcp://a:7400", epoch: 3)
        l.saw(endpoint: "tcp://b:7400", epoch: 2)
        #expect(l.active?.endpoint == "tcp://a:7400" && l.active?.epoch == 3)
        l.saw(endpoint: "tcp://b:7400", epoch: 4)
        #expect(l.active?.endpoint == "tcp://b:7400")
    }

    @Test("an election needs a shared broker and a lease longer than a takeover; the errors name the setting")
    func settings() throws {
        let base = """
            [coordinator]
            election = "kafka"
            election_session_ms = 3000
            heartbeat_ms = 200
            """
        #expect(throws: ConfigError.self) { try ClusterConfig.parse(base) }
        do { _ = try ClusterConfig.parse(base) } catch {
            #expect("\(error)".contains("worker.lease_ms") && "\(error)".contains("6400"), "\(error)")
        }
        let ok = try ClusterConfig.parse(base + "\n[worker]\nlease_ms = 9000")
        #expect(ok.electionProblem()?.key == "coordinator.election", "the embedded broker cannot be shared")
        #expect(ok.electionProblem(forCoordinator: false) == nil)
        #expect(ok.electionTopic == "tributary.coordinators")
        var shared = ok
        shared.kafka.bootstrap = "broker:9092"
        #expect(shared.electionProblem() == nil)
        #expect(throws: ConfigError.self) { try ClusterConfig.parse("[coordinator]\nendpoints = [\"a:7400\"]") }
    }
}
