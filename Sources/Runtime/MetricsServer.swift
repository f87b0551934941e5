import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP endpoint for Prometheus scrapes (`GET /metrics`), served from the process's
/// own loop: the listening socket is non-blocking and its fd joins the loop's `zmq_poll`, so
/// no thread is added and no lock is needed. Each connection gets one response and is closed
/// (HTTP/1.0). Requests are read with a short bound; a slow or silent client is dropped.
public final class MetricsServer {
    public let fd: Int32
    public let port: Int

    /// - address: "HOST:PORT" (PORT 0 = any free port).
    public init(address: String) throws(ServiceError) {
        let parts = address.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let p = UInt16(parts[1]) else {
            throw ServiceError("metrics address '\(address)' is not HOST:PORT")
        }
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw ServiceError("metrics: socket() failed") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = p.bigEndian
        let host = parts[0] == "0.0.0.0" || parts[0] == "*" ? "0.0.0.0" : String(parts[0] == "localhost" ? "127.0.0.1" : parts[0])
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
            close(s)
            throw ServiceError("metrics address '\(address)': '\(host)' is not an IPv4 address")
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(s, 16) == 0 else {
            close(s)
            throw ServiceError("metrics: cannot listen on \(address): \(String(cString: strerror(errno)))")
        }
        _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        fd = s
        port = Int(UInt16(bigEndian: bound.sin_port))
    }

    deinit { close(fd) }

    /// Serves every pending connection with `body()` (Prometheus text format 0.0.4).
    public func serve(_ body: () -> String) {
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return }
            defer { close(c) }
            // The request line is all we need; wait at most 200 ms for it.
            var tv = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 2048)
            let n = read(c, &buf, buf.count)
            let request = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : ""
            let ok = request.hasPrefix("GET /metrics") || request.hasPrefix("GET / ")
            let content = ok ? body() : "not found: try /metrics\n"
            let head = ok ? "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                          : "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
            let response = Array((head + "Content-Length: \(content.utf8.count)\r\nConnection: close\r\n\r\n" + content).utf8)
            var sent = 0
            while sent < response.count {
                let w = response[sent...].withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
                if w <= 0 { break }
                sent += w
            }
        }
    }
}

