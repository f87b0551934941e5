import ArgumentParser
import Foundation
import Config
import Runtime
import Wire
import ZeroMQ
import Models

/// The JSON file `model export` writes and `model import` reads.
struct ModelFile: Codable {
    var version: Int
    var features: [String]
    /// Weights in feature order, then the intercept.
    var parameters: [Double]
}

func modelRequest(_ endpoint: String, _ command: ModelCommand, curve: CurveClient?) -> ModelUpdate {
    // "busy" (a version is being checkpointed) is retried; anything else is final.
    for _ in 0..<20 {
        switch modelRequestOnce(endpoint, command, curve: curve) {
        case .success(let u): return u
        case .failure(let e) where e.description.hasPrefix("busy:"): usleep(500_000)
        case .failure(let e): fail(e.description)
        }
    }
    fail("the coordinator stayed busy checkpointing; try again")
}

func modelRequestOnce(_ endpoint: String, _ command: ModelCommand, curve: CurveClient?) -> Result<ModelUpdate, ServiceError> {
    let ctx = ZmqContext()
    do {
        let req = try ZmqSocket(ctx, .req, lingerMs: 0)
        try req.connect(endpoint, curve: curve)
        try req.send(WireCodec.encode(.modelCommand(command)))
        guard zmqPollReadable([req], timeoutMs: 15_000)[0] else { fail("no answer from \(endpoint) within 15 s") }
        switch try WireCodec.decode(try req.receive()[...]) {
        case .modelUpdate(let u): return .success(u)
        case .error(let e): return .failure(ServiceError(e.message))
        case let other: return .failure(ServiceError("unexpected answer '\(other.typeName)'"))
        }
    } catch { fail("\(error)") }
}
