import Config
import ZeroMQ

/// Who may talk to the coordinator when `security.curve` is on: a pure decision over ZAP
/// requests (ZeroMQ RFC 27), tested without sockets. libzmq asks it once per connection,
/// during the CURVE handshake; a refused client never gets a single message through.
public struct AccessPolicy: Sendable {
    public enum Role: String, Sendable {
        /// Registers, takes partitions, sends model deltas and model commands.
        case worker
        /// Reads status, nothing else.
        case status
    }

    public let workerKeys: Set<String>
    public let statusKeys: Set<String>

    public init(_ s: SecuritySection) {
        workerKeys = Set(s.workerKeys)
        statusKeys = Set(s.statusKeys)
    }

    public func role(ofKey key: String) -> Role? {
        workerKeys.contains(key) ? .worker : statusKeys.contains(key) ? .status : nil
    }

    /// What a ZAP handler answers: reply frames, and the client's key (Z85) and role (nil:
    /// refused). Request: version, request id, domain, address, routing id, mechanism,
    /// credentials (CURVE: the client's 32-byte public key).
    public func answer(_ request: [[UInt8]]) -> (reply: [[UInt8]], key: String, address: String, role: Role?) {
        guard request.count >= 6 else {
            return ([Array("1.0".utf8), [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []], "", "", nil)
        }
        let requestId = request[1]
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        let key = request.count >= 7 ? (z85(request[6]) ?? "") : ""
        let role = mechanism == "CURVE" ? role(ofKey: key) : nil
        let (code, text) = role == nil ? ("400", mechanism == "CURVE" ? "unknown key" : "CURVE required") : ("200", "OK")
        // The User-Id comes back on every message of the connection (ZmqSocket.receiveWithUser).
        return ([Array("1.0".utf8), requestId, Array(code.utf8), Array(text.utf8), Array((role?.rawValue ?? "").utf8), []],
                key, address, role)
    }
}
