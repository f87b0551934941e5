import CZmq
#if canImport(Glibc)
import Glibc
#endif

/// A CURVE key pair as Z85 text (40 characters each).
public struct CurveKeyPair: Sendable, Equatable {
    public var publicKey: String
    public var secretKey: String

    /// A fresh key pair from libzmq (its own random source).
    public static func generate() throws(ZmqError) -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41)
        var sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZmqError("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The pair belonging to a secret key (nil if it is not a valid Z85 key).
    public init?(secretKey: String) {
        // libzmq decodes into a 32-byte buffer: only 40 characters may reach it. It rejects
        // text that is not Z85 itself.
        guard secretKey.utf8.count == 40 else { return nil }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { return nil }
        self.init(publicKey: String(cString: pub), secretKey: secretKey)
    }

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

/// Z85 text into its bytes (`out` must hold 4/5 of the text's length); false if invalid.
public func zmqZ85Decode(_ text: String, into out: inout [UInt8]) -> Bool {
    guard text.utf8.count % 5 == 0, out.count >= text.utf8.count * 4 / 5 else { return false }
    return zmq_z85_decode(&out, text) != nil
}

/// A 32-byte binary key as Z85 text.
public func z85(_ key: [UInt8]) -> String? {
    guard key.count == 32 else { return nil }
    var out = [CChar](repeating: 0, count: 41)
    return key.withUnsafeBufferPointer { zmq_z85_encode(&out, $0.baseAddress, 32) } == nil ? nil : String(cString: out)
}

/// `zmq_poll` over several sockets (zmq_poller_* is draft-only in Debian's libzmq).
/// Returns, per socket, whether it is readable. EINTR counts as "nothing ready".
public func zmqPollReadable(_ sockets: [ZmqSocket], timeoutMs: Int) -> [Bool] {
    zmqPollReadable(sockets, fds: [], timeoutMs: timeoutMs).sockets
}

/// `zmq_poll` over sockets and plain file descriptors (e.g. librdkafka's queue wake-up
/// pipes), so one wait covers the control plane and the data plane.
public func zmqPollReadable(_ sockets: [ZmqSocket], fds: [Int32], timeoutMs: Int) -> (sockets: [Bool], fds: [Bool]) {
    var items = sockets.map { zmq_pollitem_t(socket: $0.raw, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    items += fds.map { zmq_pollitem_t(socket: nil, fd: $0, events: Int16(ZMQ_POLLIN), revents: 0) }
    let rc = zmq_poll(&items, Int32(items.count), timeoutMs)
    if rc <= 0 { return (Array(repeating: false, count: sockets.count), Array(repeating: false, count: fds.count)) }
    let ready = items.map { ($0.revents & Int16(ZMQ_POLLIN)) != 0 }
    return (Array(ready[0..<sockets.count]), Array(ready[sockets.count...]))
}

public func zmqHasCurve() -> Bool { zmq_has("curve") == 1 }
