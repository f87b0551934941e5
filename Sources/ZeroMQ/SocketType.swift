import CZmq
#if canImport(Glibc)
import Glibc
#endif

public enum SocketType: Int32, Sendable {
    case router, dealer, pub, sub, req, rep
    var raw: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .pub: ZMQ_PUB
        case .sub: ZMQ_SUB
        case .req: ZMQ_REQ
        case .rep: ZMQ_REP
        }
    }
}
