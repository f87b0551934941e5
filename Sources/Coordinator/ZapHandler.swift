import Config
import ZeroMQ

/// The ZAP endpoint libzmq consults for every CURVE handshake on sockets of this context.
/// Bound before the ROUTER accepts anyone; the coordinator's loop polls it with the ROUTER.
final class ZapHandler {
    let socket: ZmqSocket
    let policy: AccessPolicy
    private(set) var refused = 0

    init(context: ZmqContext, policy: AccessPolicy) throws(ZmqError) {
        socket = try ZmqSocket(context, .rep, lingerMs: 0, maxMessageSize: 4096)
        try socket.bind("inproc://zeromq.zap.01")
        self.policy = policy
    }

    /// Answers every pending request; `onRefused(key, address)` for each refusal.
    func serve(onRefused: (String, String) -> Void) {
        while let request = try? socket.receive(dontWait: true) {
            let a = policy.answer(request)
            if a.role == nil {
                refused += 1
                onRefused(a.key, a.address)
            }
            try? socket.send(a.reply, dontWait: true)
        }
    }
}
