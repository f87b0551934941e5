import CZmq
#if canImport(Glibc)
import Glibc
#endif

/// A ZeroMQ socket with bounded waits and a clean close (linger bounded, so a process
/// never hangs on exit waiting for an absent peer). Owned by one thread: ZeroMQ sockets are
/// not thread-safe, and this type is deliberately not Sendable.
public final class ZmqSocket {
    let raw: UnsafeMutableRawPointer
    private let context: ZmqContext
    public let type: SocketType

    /// - maxMessageSize: larger inbound messages drop the connection (ZMQ_MAXMSGSIZE),
    ///   so a hostile peer cannot make us allocate without bound.
    public init(_ context: ZmqContext, _ type: SocketType, lingerMs: Int32 = 200,
                maxMessageSize: Int64 = 64 << 20) throws(ZmqError) {
        guard let s = zmq_socket(context.raw, type.raw) else { throw ZmqError("zmq_socket") }
        raw = s
        self.context = context
        self.type = type
        try setInt(ZMQ_LINGER, lingerMs)
        var max = maxMessageSize
        if zmq_setsockopt(raw, ZMQ_MAXMSGSIZE, &max, MemoryLayout<Int64>.size) != 0 {
            throw ZmqError("ZMQ_MAXMSGSIZE")
        }
    }

    deinit { zmq_close(raw) }

    public func setInt(_ option: Int32, _ value: Int32) throws(ZmqError) {
        var v = value
        if zmq_setsockopt(raw, option, &v, MemoryLayout<Int32>.size) != 0 {
            throw ZmqError("zmq_setsockopt(\(option))")
        }
    }

    public func setBytes(_ option: Int32, _ value: [UInt8]) throws(ZmqError) {
        let rc = value.withUnsafeBytes { zmq_setsockopt(raw, option, $0.baseAddress, $0.count) }
        if rc != 0 { throw ZmqError("zmq_setsockopt(\(option))") }
    }

    public func setIdentity(_ id: [UInt8]) throws(ZmqError) { try setBytes(ZMQ_ROUTING_ID, id) }
    /// ROUTER: fail instead of silently dropping a message to an unknown peer.
    public func setRouterMandatory() throws(ZmqError) { try setInt(ZMQ_ROUTER_MANDATORY, 1) }
    public func subscribe(_ prefix: [UInt8] = []) throws(ZmqError) { try setBytes(ZMQ_SUBSCRIBE, prefix) }
    /// Reconnect backoff (Paranoid Pirate's reconnect with backoff is libzmq's own).
    public func setReconnect(minMs: Int32, maxMs: Int32) throws(ZmqError) {
        try setInt(ZMQ_RECONNECT_IVL, minMs)
        try setInt(ZMQ_RECONNECT_IVL_MAX, maxMs)
    }

    public func bind(_ endpoint: String) throws(ZmqError) {
        if zmq_bind(raw, endpoint) != 0 { throw ZmqError("bind \(endpoint)") }
    }
    public func connect(_ endpoint: String) throws(ZmqError) {
        if zmq_connect(raw, endpoint) != 0 { throw ZmqError("connect \(endpoint)") }
    }
    public func disconnect(_ endpoint: String) {
        _ = zmq_disconnect(raw, endpoint)
    }
    /// Stops listening on `endpoint` (as bound: `lastEndpoint`), so another socket can bind it.
    public func unbind(_ endpoint: String) {
        _ = zmq_unbind(raw, endpoint)
    }

    /// The endpoint actually bound (resolves `tcp://127.0.0.1:*` to its port).
    public var lastEndpoint: String {
        var buf = [CChar](repeating: 0, count: 256)
        var len = buf.count
        _ = zmq_getsockopt(raw, ZMQ_LAST_ENDPOINT, &buf, &len)
        return String(cString: buf)
    }

    /// Sends a multipart message. `dontWait`: fail with EAGAIN instead of blocking.
    public func send(_ frames: [[UInt8]], dontWait: Bool = false) throws(ZmqError) {
        for (i, f) in frames.enumerated() {
            var flags: Int32 = i < frames.count - 1 ? ZMQ_SNDMORE : 0
            if dontWait { flags |= ZMQ_DONTWAIT }
            let rc = f.withUnsafeBytes { zmq_send(raw, $0.baseAddress, $0.count, flags) }
            if rc < 0 { throw ZmqError("send") }
        }
    }

    /// Receives one multipart message; throws `isTimeout` when none arrives in time.
    public func receive(dontWait: Bool = false) throws(ZmqError) -> [[UInt8]] {
        try receiveWithUser(dontWait: dontWait).frames
    }

    /// Receives one multipart message and the User-Id the ZAP handler gave its sender's
    /// connection ("" without authentication).
    public func receiveWithUser(dontWait: Bool = false) throws(ZmqError) -> (frames: [[UInt8]], user: String) {
        var frames: [[UInt8]] = []
        var user = ""
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        while true {
            if zmq_msg_recv(&msg, raw, dontWait ? ZMQ_DONTWAIT : 0) < 0 { throw ZmqError("receive") }
            let size = zmq_msg_size(&msg)
            let data = zmq_msg_data(&msg)
            frames.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
            // A ROUTER's identity frame is made locally and carries no metadata: take it
            // from the first frame received from the peer.
            if user.isEmpty, let u = zmq_msg_gets(&msg, "User-Id") { user = String(cString: u) }
            if zmq_msg_more(&msg) == 0 { break }
        }
        return (frames, user)
    }

    // MARK: CURVE (libzmq's CurveZMQ: Curve25519 keys, encrypted and authenticated links)

    /// This socket accepts CURVE clients; with a ZAP handler in the same context (see
    /// `ZapHandler`) only the keys it allows get in.
    public func makeCurveServer(secretKey: String, zapDomain: String) throws(ZmqError) {
        try setInt(ZMQ_CURVE_SERVER, 1)
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(secretKey.utf8))
        try setBytes(ZMQ_ZAP_DOMAIN, Array(zapDomain.utf8))
    }

    /// This socket connects as a CURVE client to a server with `serverKey` (set before connect).
    public func makeCurveClient(serverKey: String, keys: CurveKeyPair) throws(ZmqError) {
        try setBytes(ZMQ_CURVE_SERVERKEY, Array(serverKey.utf8))
        try setBytes(ZMQ_CURVE_PUBLICKEY, Array(keys.publicKey.utf8))
        try setBytes(ZMQ_CURVE_SECRETKEY, Array(keys.secretKey.utf8))
    }
}

extension ZmqSocket {
    /// Connects, as a CURVE client first when `curve` is given.
    public func connect(_ endpoint: String, curve: CurveClient?) throws(ZmqError) {
        if let curve { try makeCurveClient(serverKey: curve.serverKey, keys: curve.keys) }
        try connect(endpoint)
    }
}
