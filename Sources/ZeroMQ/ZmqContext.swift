import CZmq
#if canImport(Glibc)
import Glibc
#endif

/// One ZeroMQ context per process; sockets keep it alive.
public final class ZmqContext {
    let raw: UnsafeMutableRawPointer
    public init() {
        raw = zmq_ctx_new()
    }
    deinit { zmq_ctx_term(raw) }
}
