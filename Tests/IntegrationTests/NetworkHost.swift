import Foundation

/// Host B on one machine: a network namespace joined to the root one (host A) by a veth pair,
/// with relays so B reaches host A's embedded broker (which listens on 127.0.0.1 only) at the
/// address it advertises. Needs root, `ip` and `socat` (`canMakeHosts`). Torn down by `close`.
final class NetworkHost {
    let ns: String, vA: String, vB: String, ipA: String, ipB: String
    private var relays: [Process] = []

    /// - prefix: two letters naming its interfaces; subnet: 10.<subnet>.x.0/24.
    init(prefix: String, subnet: Int) {
        let tag = getpid() % 10000
        ns = "\(prefix)B\(tag)"
        vA = "\(prefix)A\(tag)"
        vB = "\(prefix)b\(tag)"
        ipA = "10.\(subnet).\(tag % 200).1"
        ipB = "10.\(subnet).\(tag % 200).2"
    }

    /// Creates the namespace and the link; the commands that failed (none when it worked).
    func create() -> [String] {
        ["ip netns add \(ns)", "ip link add \(vA) type veth peer name \(vB)", "ip link set \(vB) netns \(ns)",
         "ip addr add \(ipA)/24 dev \(vA)", "ip link set \(vA) up",
         "ip netns exec \(ns) ip addr add \(ipB)/24 dev \(vB)", "ip netns exec \(ns) ip link set \(vB) up",
         "ip netns exec \(ns) ip link set lo up"].filter { sh($0) != 0 }
    }

    /// Relays host A's address to the broker at `bootstrap` (127.0.0.1:PORT), and host B's
    /// loopback to host A, so B reaches the broker at the same advertised address.
    func relayBroker(_ bootstrap: String) throws {
        let port = String(bootstrap.split(separator: ":").last ?? "")
        let a = Process(), b = Process()
        a.executableURL = URL(fileURLWithPath: "/usr/bin/socat")
        a.arguments = ["TCP-LISTEN:\(port),bind=\(ipA),fork,reuseaddr", "TCP:127.0.0.1:\(port)"]
        b.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        b.arguments = ["netns", "exec", ns, "socat", "TCP-LISTEN:\(port),bind=127.0.0.1,fork,reuseaddr", "TCP:\(ipA):\(port)"]
        for r in [a, b] {
            // Not our stdout: a relay outliving the test must not hold the runner's pipe open.
            r.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            r.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try r.run()
            relays.append(r)
        }
    }

    /// Cuts (false) or restores (true) the link.
    @discardableResult
    func link(up: Bool) -> Int32 { sh("ip link set \(vA) \(up ? "up" : "down")") }

    func close() {
        for r in relays { r.terminate() }
        // socat forks a child per connection: kill them all ("[s]" keeps pkill from matching
        // the shell that runs it).
        sh("pkill -9 -f '[s]ocat.*\(ipA)'")
        sh("ip netns pids \(ns) | xargs -r kill -9")
        sh("ip netns del \(ns)")
        sh("ip link del \(vA)")
    }
}
