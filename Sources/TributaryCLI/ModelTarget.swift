import ArgumentParser
import Foundation
import Config
import Runtime
import Wire
import ZeroMQ
import Models

/// Where a model command goes: the coordinator's endpoint and this client's CURVE keys
/// (the options every `model` subcommand takes).
struct ModelTarget: ParsableArguments {
    @Option(help: "The coordinator's endpoint (default: $TRIBUTARY_COORDINATOR, else tcp://127.0.0.1:7400).")
    var coordinator: String = BuildInfo.defaultCoordinator
    @OptionGroup var security: CurveOptions

    func send(_ command: ModelCommand) -> ModelUpdate {
        modelRequest(coordinator, command, curve: security.client())
    }
}
