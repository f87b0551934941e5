import Foundation
import Config
import Models

/// Tributary's control-plane protocol, version 1 (docs/PROTOCOL.md).
///
/// Every message is a ZeroMQ multipart message: frame 0 is the 4-byte protocol tag "TRB1",
/// frame 1 a JSON object `{"type": "...", "body": {...}}`. JSON keeps the protocol readable
/// from any language (the pyzmq status example is a few lines); these messages are control
/// traffic (heartbeats, assignments, status), far from the per-record hot path.
/// A message with another tag, unknown type or malformed body is rejected as a `WireError`.
public enum WireMessage: Sendable, Equatable {
    // worker -> coordinator
    case hello(Hello)
    case heartbeat(WorkerReport)
    case revoked(Revoked)
    case leaving(Leaving)
    /// What a worker's model learnt since the global version it last adopted.
    case modelDelta(ModelDelta)
    /// Operator commands on the global model (tributary model export|import|rollback).
    case modelCommand(ModelCommand)
    // coordinator -> worker
    case welcome(Welcome)
    case assign(Assignment)
    case revoke(Assignment)
    case ping(Ping)
    /// A new global model version (sent to every worker on its own link, so none is missed).
    case modelUpdate(ModelUpdate)
    /// "I do not know you (any more): say hello again." Sent after a coordinator restart or
    /// to a worker already declared dead.
    case reregister(Reregister)
    /// The answer to `leaving`: the worker may close its socket (closing earlier can lose
    /// what it still had in flight: ZeroMQ drops a closed peer's queued messages).
    case left(Leaving)
    // status client <-> coordinator
    case statusRequest(StatusRequest)
    case status(ClusterStatus)
    case error(WireFailure)

    public var typeName: String {
        switch self {
        case .hello: "hello"
        case .heartbeat: "heartbeat"
        case .revoked: "revoked"
        case .leaving: "leaving"
        case .modelDelta: "model_delta"
        case .modelUpdate: "model_update"
        case .modelCommand: "model_command"
        case .welcome: "welcome"
        case .assign: "assign"
        case .revoke: "revoke"
        case .ping: "ping"
        case .reregister: "reregister"
        case .left: "left"
        case .statusRequest: "status_request"
        case .status: "status"
        case .error: "error"
        }
    }
}
