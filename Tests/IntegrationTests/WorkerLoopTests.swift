import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Connects to a TCP endpoint (IPv4 or IPv6 address) and returns the socket, or -1.
func tcpConnect(host: String, port: Int) -> Int32 {
    let v6 = host.contains(":")
    let s = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard s >= 0 else { return -1 }
    var rc: Int32
    if v6 {
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_port = UInt16(port).bigEndian
        inet_pton(AF_INET6, host, &a.sin6_addr)
        rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    } else {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, host, &a.sin_addr)
        rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
    if rc != 0 { close(s); return -1 }
    return s
}

/// One HTTP/1.0 GET; returns the status code and the body.
func httpRequest(host: String, port: Int, path: String) throws -> (status: Int, body: String) {
    let s = tcpConnect(host: host, port: port)
    guard s >= 0 else { throw HarnessError("cannot connect to \(host):\(port)") }
    defer { close(s) }
    var tv = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    let req = Array("GET \(path) HTTP/1.0\r\n\r\n".utf8)
    _ = req.withUnsafeBytes { write(s, $0.baseAddress, $0.count) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(s, &buf, buf.count)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    let text = String(decoding: out, as: UTF8.self)
    guard text.hasPrefix("HTTP/1.0 "), let code = Int(text.dropFirst(9).prefix(3)), let r = text.range(of: "\r\n\r\n") else {
        throw HarnessError("bad response from \(host):\(port)\(path): \(text.prefix(200))")
    }
    return (code, String(text[r.upperBound...]))
}

/// Issue 22: the worker's loop never waits on the network for long, so a worker doing slow
/// work (restoring a large feature state, serving idle HTTP clients) keeps its heartbeats and
/// its partitions, with the coordinator's tightest failure timeout.
@Suite("Worker loop", .serialized)
struct WorkerLoopTests {
    // 8 partitions: 120,000 events are ~20 MB, and the mock keeps only ~5 MB per partition;
    // with 4, a worker slowed by a loaded machine found the oldest records already deleted.
    static let tight = """
    [kafka]
    partitions = 8
    [coordinator]
    heartbeat_ms = 250
    failure_timeout_ms = 1000
    [features]
    numeric = ["x.f0"]
    aggregates = [{ field = "x.f0", stats = ["count", "mean"] }]
    [model]
    sync_interval_ms = 0
    """

    @Test("a worker restoring a 100,000-key feature changelog is never declared dead (heartbeat 250 ms, failure timeout 1 s); every key comes back")
    func largeRestoreKeepsHeartbeats() throws {
        let cluster = try Cluster.start(config: Self.tight)
        let a = try cluster.worker("a")
        try cluster.waitFor(seconds: 30, "worker a owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        // 120,000 events of up to 200,000 users: about 90,000 distinct keys, each a changelog record.
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "120000", "--users", "200000", "--seed", "5"])
        #expect(gen.wait(seconds: 120) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let before = try cluster.waitCommitted(highs, seconds: 180)
        let keys = before.workers.compactMap(\.report).flatMap(\.partitions).reduce(0) { $0 + $1.keys }
        #expect(keys >= 80_000, "\(keys) keys in the state")
        #expect(before.workers.compactMap(\.report).allSatisfy { $0.skippedOffsets == 0 }, "records deleted by the broker before they were read")
        // a hands everything over (final capture, commit); b restores all of it at once.
        a.signal(SIGTERM)
        #expect(a.wait(seconds: 60) == 0)
        let b = try cluster.worker("b")
        let after = try cluster.waitFor(seconds: 120, "worker b restored and committed every partition") { s in
            guard let r = s.workers.first(where: { $0.workerId == "b" })?.report, r.partitions.count == 8 else { return false }
            return r.partitions.allSatisfy { p in highs[p.partition] == p.committed && p.restoredKeys > 0 }
        }
        let report = try #require(after.workers.first { $0.workerId == "b" }?.report)
        let restored = report.partitions.reduce(0) { $0 + $1.restoredKeys }
        #expect(restored == keys, "restored \(restored) of \(keys) keys")
        let restoreMs = report.partitions.map(\.restoreMs)
        #expect(!cluster.coordinator.log.contains("declared dead"), "restore took \(restoreMs) ms per partition")
        #expect(!b.log.contains("no heartbeat sent"), "\(b.log.suffix(2000))")
        // It goes on scoring after the restore.
        let more = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "2000", "--users", "200000", "--seed", "6"])
        #expect(more.wait(seconds: 60) == 0)
        let highs2 = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let done = try cluster.waitCommitted(highs2, seconds: 60)
        #expect(done.workers.filter { $0.state == .up }.map(\.workerId) == ["b"])
        b.signal(SIGTERM)
        #expect(b.wait(seconds: 30) == 0)
    }

    @Test("50 idle TCP connections held open to a worker's metrics port: it keeps its partitions and scores; /metrics, /healthz and /readyz answer meanwhile, over IPv6 too")
    func idleMetricsClients() throws {
        let cluster = try Cluster.start(config: Self.tight)
        let w = try cluster.worker("m", args: ["--metrics", "[::1]:0"])
        let s = try cluster.waitFor(seconds: 30, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        var port = 0
        for _ in 0..<50 where port == 0 {
            if let r = w.log.range(of: "http://\\[::1\\]:[0-9]+/metrics", options: .regularExpression) {
                port = Int(w.log[r].split(separator: ":").last!.split(separator: "/")[0]) ?? 0
            }
            usleep(100_000)
        }
        try #require(port > 0, "the worker did not announce its metrics endpoint: \(w.log)")
        #expect(try httpRequest(host: "::1", port: port, path: "/healthz").status == 200)
        #expect(try httpRequest(host: "::1", port: port, path: "/readyz").status == 200)
        #expect(try httpRequest(host: "::1", port: port, path: "/nothing").status == 404)

        // Clients that connect and never send a byte, 50 at a time, renewed for 6 s while a
        // stream runs.
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "6000", "--rate", "1000"])
        var idle: [Int32] = []
        let until = Date().addingTimeInterval(6)
        var scrapes = 0
        while Date() < until {
            for fd in idle { close(fd) }
            idle = (0..<50).map { _ in tcpConnect(host: "::1", port: port) }
            #expect(idle.allSatisfy { $0 >= 0 })
            usleep(500_000)
            let m = try httpRequest(host: "::1", port: port, path: "/metrics")
            #expect(m.status == 200)
            #expect(try parsePrometheus(m.body)["tributary_records_in_total"] != nil)
            scrapes += 1
        }
        #expect(gen.wait(seconds: 60) == 0)
        let highs = try highWatermarks(bootstrap: cluster.bootstrap, topic: "events")
        let done = try cluster.waitCommitted(highs, seconds: 60)
        for fd in idle { close(fd) }
        #expect(done.totalProcessed == 6000)
        #expect(done.ownerByPartition == s.ownerByPartition, "no partition moved")
        #expect(!cluster.coordinator.log.contains("declared dead"))
        #expect(!w.log.contains("no heartbeat sent"))
        #expect(scrapes >= 5)
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}
