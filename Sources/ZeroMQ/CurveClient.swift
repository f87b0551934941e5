import CZmq
#if canImport(Glibc)
import Glibc
#endif

/// What a client needs to reach a CURVE coordinator: its public key and the client's own pair.
public struct CurveClient: Sendable, Equatable {
    public var serverKey: String
    public var keys: CurveKeyPair
    public init(serverKey: String, keys: CurveKeyPair) {
        self.serverKey = serverKey
        self.keys = keys
    }
}
