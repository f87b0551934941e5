import Foundation
import Testing

/// Two hosts on one machine: host A is the root network namespace (broker, coordinator,
/// worker a1), host B a network namespace joined by a veth pair (worker b1). Needs root
/// (CI runs as root) and `ip`/`socat` (scripts/setup installs them).
let canMakeHosts: Bool = {
    let name = "tbprobe\(getpid() % 10000)"
    defer { sh("ip netns del \(name)") }
    return getuid() == 0 && sh("ip netns add \(name)") == 0 && sh("command -v socat") == 0
}()

@Suite("Many hosts", .serialized, .enabled(if: canMakeHosts, "needs root, ip netns and socat"))
struct MultiHostTests {
    @Test("cut worker B's link: the coordinator reassigns, B stops its partitions by itself; restore: B rejoins")
    func networkCut() throws {
        let host = NetworkHost(prefix: "tb", subnet: 77)
        defer { host.close() }
        #expect(host.create().isEmpty, "network namespace commands failed")
        let (ns, ipA) = (host.ns, host.ipA)
        let tag = getpid() % 10000
        let conf = NSTemporaryDirectory() + "hosts-\(tag).conf"
        try """
        [kafka]
        partitions = 4
        [coordinator]
        heartbeat_ms = 250
        failure_timeout_ms = 2000
        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let broker = try Proc("broker", ["broker", "--config", conf])
        let bootstrap = String(try #require(broker.readLine()).dropFirst("bootstrap ".count))
        try host.relayBroker(bootstrap)

        let coord = try Proc("coordinator", ["coordinator", "--config", conf, "--bind", "tcp://\(ipA):*", "--bootstrap", bootstrap])
        let endpoint = try #require(coord.readLine()).split(separator: " ").map(String.init)[1]
        #expect(endpoint.hasPrefix("tcp://\(ipA):"))
        let cluster = Cluster(coordinator: coord, endpoint: endpoint, bootstrap: bootstrap)
        let a1 = try cluster.worker("a1")
        let b1 = try Proc("b1", ["worker", "--coordinator", endpoint, "--id", "b1"], launcher: ["ip", "netns", "exec", ns])
        try cluster.waitFor(seconds: 30, "a1 and b1 share the 4 partitions") { s in
            s.workers.count == 2 && s.workers.allSatisfy { $0.partitions.count == 2 && $0.state == .up }
        }
        let gen = try Proc("produce", ["produce", "--bootstrap", bootstrap, "--count", "20000", "--rate", "2000"])
        try cluster.waitFor(seconds: 20, "b1 is processing on host B") { s in
            (s.workers.first { $0.workerId == "b1" }?.report?.processed ?? 0) > 100
        }

        // Cut host B off.
        #expect(host.link(up: false) == 0)
        try cluster.waitFor(seconds: 8, "b1 declared dead, a1 owns all 4 partitions") { s in
            s.workers.first { $0.workerId == "b1" }?.state == .dead
                && s.workers.first { $0.workerId == "a1" }?.partitions.count == 4
        }
        // B stopped its partitions on its own when its lease ran out.
        let deadline = Date().addingTimeInterval(5)
        while !b1.log.contains("stopping all partitions") && Date() < deadline { usleep(100_000) }
        #expect(b1.log.contains("stopping all partitions"), "\(b1.log)")

        // Restore the link: B registers again and gets its share back.
        #expect(host.link(up: true) == 0)
        try cluster.waitFor(seconds: 30, "b1 rejoined with 2 partitions") { s in
            s.workers.filter { $0.state == .up }.count == 2 && s.workers.allSatisfy { $0.partitions.count == 2 }
        }
        #expect(gen.wait(seconds: 60) == 0)
        for w in [a1, b1] { w.signal(SIGTERM); #expect(w.wait(seconds: 20) == 0) }
    }
}
