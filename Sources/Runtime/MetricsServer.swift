import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP endpoint for Prometheus scrapes and probes, served from the process's own
/// loop: `GET /metrics` (text format 0.0.4), `GET /healthz` (200 while the loop turns) and
/// `GET /readyz` (200 once the process does its job, 503 before). The listening socket and
/// every open connection are non-blocking and their fds join the loop's `zmq_poll` (`fds`),
/// so no thread is added, no lock is needed, and no client can hold the loop: a connection
/// is read only when it is readable, answered once its request line is in, and dropped when
/// it stays silent for `idleTimeoutMs` or when `maxConnections` are already open.
/// Hand-written (not FlyingFox or Hummingbird): both run their own event loop on other
/// threads, and the figures live on this one.
public final class MetricsServer {
    /// The listening socket.
    public let fd: Int32
    public let port: Int
    public var idleTimeoutMs: Int64 = 2000
    public var maxConnections = 64

    private struct Connection {
        let fd: Int32
        let opened: Int64
        var request: [UInt8] = []
    }
    private var connections: [Connection] = []

    /// - address: "HOST:PORT" (PORT 0 = any free port); HOST may be IPv4, `*`/`0.0.0.0`,
    ///   `localhost`, or IPv6 in brackets (`[::1]:9100`, `[::]:9100`).
    public init(address: String) throws(ServiceError) {
        guard let colon = address.lastIndex(of: ":"), let p = UInt16(address[address.index(after: colon)...]) else {
            throw ServiceError("metrics address '\(address)' is not HOST:PORT")
        }
        var host = String(address[..<colon])
        let v6 = host.hasPrefix("[") && host.hasSuffix("]")
        if v6 { host = String(host.dropFirst().dropLast()) }
        if host == "*" { host = "0.0.0.0" }
        if host == "localhost" { host = "127.0.0.1" }
        let s = socket(v6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw ServiceError("metrics: socket() failed: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length: socklen_t
        if v6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = p.bigEndian
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else {
                close(s)
                throw ServiceError("metrics address '\(address)': '\(host)' is not an IPv6 address")
            }
            withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = p.bigEndian
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else {
                close(s)
                throw ServiceError("metrics address '\(address)': '\(host)' is not an IPv4 address (IPv6 goes in brackets: [::1]:\(p))")
            }
            withUnsafeBytes(of: a) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        }
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, length) }
        }
        guard rc == 0, listen(s, 64) == 0 else {
            let why = String(cString: strerror(errno))
            close(s)
            throw ServiceError("metrics: cannot listen on \(address): \(why)")
        }
        _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
        var bound = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        fd = s
        port = Int(UInt16(bigEndian: withUnsafeBytes(of: bound) { raw in
            // sin_port and sin6_port sit at the same offset.
            raw.load(fromByteOffset: MemoryLayout<sa_family_t>.size, as: UInt16.self)
        }))
    }

    deinit {
        for c in connections { close(c.fd) }
        close(fd)
    }

    /// The descriptors to wait on: the listener, then each open connection.
    public var fds: [Int32] { [fd] + connections.map(\.fd) }

    /// Accepts what is pending and answers every connection whose request is complete.
    /// Call when any of `fds` is readable, and now and then (`sweep`) to drop silent ones.
    /// - ready: what `/readyz` says; body: the `/metrics` text, made only when asked.
    public func serve(ready: Bool, _ body: () -> String) {
        let now = Self.nowMs()
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { break }
            _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
            if connections.count >= maxConnections {
                // The oldest goes: a scraper that connects now must be answered.
                close(connections.removeFirst().fd)
            }
            connections.append(Connection(fd: c, opened: now))
        }
        var buf = [UInt8](repeating: 0, count: 2048)
        var i = 0
        while i < connections.count {
            var conn = connections[i]
            let n = read(conn.fd, &buf, buf.count)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                close(conn.fd)
                connections.remove(at: i)
                continue
            }
            if n > 0 { conn.request += buf[0..<n] }
            if conn.request.contains(UInt8(ascii: "\n")) || conn.request.count >= 8192 {
                respond(conn.fd, to: conn.request, ready: ready, body)
                close(conn.fd)
                connections.remove(at: i)
                continue
            }
            connections[i] = conn
            i += 1
        }
        sweep(now: now)
    }

    /// Drops connections silent for longer than `idleTimeoutMs`.
    public func sweep(now: Int64 = MetricsServer.nowMs()) {
        connections.removeAll { c in
            guard now - c.opened > idleTimeoutMs else { return false }
            close(c.fd)
            return true
        }
    }

    public var openConnections: Int { connections.count }

    private func respond(_ c: Int32, to request: [UInt8], ready: Bool, _ body: () -> String) {
        let line = String(decoding: request.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let path = parts.count >= 2 && parts[0] == "GET" ? parts[1].split(separator: "?").first.map(String.init) ?? "" : ""
        let (status, content): (String, String)
        switch path {
        case "/metrics", "/": (status, content) = ("200 OK", body())
        case "/healthz": (status, content) = ("200 OK", "ok\n")
        case "/readyz": (status, content) = ready ? ("200 OK", "ready\n") : ("503 Service Unavailable", "not ready\n")
        default: (status, content) = ("404 Not Found", "not found: try /metrics, /healthz or /readyz\n")
        }
        let type = path == "/metrics" || path == "/" ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain"
        let response = Array("HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(content.utf8.count)\r\nConnection: close\r\n\r\n\(content)".utf8)
        // A scrape is a few KB, well inside a fresh socket's send buffer; a client that does
        // not take it gets what fitted, never a wait.
        var sent = 0
        while sent < response.count {
            let w = response[sent...].withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            if w <= 0 { break }
            sent += w
        }
    }

    public static func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
