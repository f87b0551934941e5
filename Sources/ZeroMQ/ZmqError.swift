import CZmq
#if canImport(Glibc)
import Glibc
#endif

/// A libzmq failure: the call, errno and libzmq's text.
public struct ZmqError: Error, CustomStringConvertible, Sendable, Equatable {
    public let errno: Int32
    public let context: String
    public var description: String { "\(context): \(String(cString: zmq_strerror(errno)))" }
    init(_ context: String) {
        self.errno = tb_zmq_errno()
        self.context = context
    }
    /// The call timed out (ZMQ_RCVTIMEO / ZMQ_SNDTIMEO) or would block.
    public var isTimeout: Bool { errno == EAGAIN }
    /// Interrupted by a signal: the caller re-checks its stop flag.
    public var isInterrupted: Bool { errno == EINTR }
}
