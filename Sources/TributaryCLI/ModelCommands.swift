import ArgumentParser
import Foundation
import Runtime
import Wire
import ZeroMQ

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

struct ModelCommandGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Export, import or roll back the cluster's global model.",
        subcommands: [Export.self, Import.self, Rollback.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the current global model to a JSON file.")
        @Option(help: "The coordinator's endpoint.") var coordinator: String = "tcp://127.0.0.1:7400"
        @OptionGroup var security: CurveOptions
        @Argument(help: "Output file.") var file: String = "model.json"
        func run() throws {
            let u = modelRequest(coordinator, ModelCommand(action: "export"), curve: security.client())
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(ModelFile(version: u.version, features: u.features, parameters: u.parameters))
                .write(to: URL(fileURLWithPath: file))
            say("exported global model version \(u.version) (\(u.parameters.count) parameters) to \(file)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a model file the next global version (every worker adopts it exactly).")
        @Option(help: "The coordinator's endpoint.") var coordinator: String = "tcp://127.0.0.1:7400"
        @OptionGroup var security: CurveOptions
        @Argument(help: "A file written by `model export`.") var file: String
        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
            let m: ModelFile
            do { m = try JSONDecoder().decode(ModelFile.self, from: data) } catch { fail("\(file): not a model file: \(error)") }
            let u = modelRequest(coordinator, ModelCommand(action: "import", parameters: m.parameters), curve: security.client())
            if !m.features.isEmpty && m.features != u.features {
                say("warning: \(file) was exported with features \(m.features); the cluster uses \(u.features)")
            }
            say("imported \(file) as global model version \(u.version)")
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a checkpointed version's parameters the next global version.")
        @Option(help: "The coordinator's endpoint.") var coordinator: String = "tcp://127.0.0.1:7400"
        @OptionGroup var security: CurveOptions
        @Argument(help: "The version to go back to.") var version: Int
        func run() throws {
            let u = modelRequest(coordinator, ModelCommand(action: "rollback", version: version), curve: security.client())
            say("rolled back to version \(version): it is now global model version \(u.version)")
        }
    }
}
