import ArgumentParser
import Foundation
import Config
import Runtime
import Wire
import ZeroMQ
import Models

struct ModelCommandGroup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Export, import or roll back the global model; deploy, promote and retire models.",
        subcommands: [Export.self, Import.self, Rollback.self, Deploy.self, Promote.self, Retire.self, AB.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the current global model to a JSON file.")
        @OptionGroup var target: ModelTarget
        @Argument(help: "Output file.") var file: String = "model.json"
        @Option(help: "Which model (several models: default the champion).") var name: String = ""
        func run() throws {
            let u = target.send(ModelCommand(action: "export", name: name))
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
        @OptionGroup var target: ModelTarget
        @Argument(help: "A file written by `model export`.") var file: String
        @Option(help: "Into which model (several models: default the champion).") var name: String = ""
        func run() throws {
            let m = readModelFile(file)
            let u = target.send(ModelCommand(action: "import", parameters: m.parameters, name: name))
            if !m.features.isEmpty && m.features != u.features {
                say("warning: \(file) was exported with features \(m.features); the cluster uses \(u.features)")
            }
            say("imported \(file) as global model version \(u.version)")
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a checkpointed version's parameters the next global version.")
        @OptionGroup var target: ModelTarget
        @Argument(help: "The version to go back to.") var version: Int
        func run() throws {
            let u = target.send(ModelCommand(action: "rollback", version: version))
            say("rolled back to version \(version): it is now global model version \(u.version)")
        }
    }
}

func readModelFile(_ file: String) -> ModelFile {
    guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
    do { return try JSONDecoder().decode(ModelFile.self, from: data) } catch { fail("\(file): not a model file: \(error)") }
}

/// A model spec file's text (what a deploy sends) and what it says (checked here first, so
/// a mistake is reported before anything is sent).
func readModelSpec(_ file: String) -> (text: String, entry: ModelEntry) {
    guard let data = FileManager.default.contents(atPath: file) else { fail("cannot read \(file)") }
    let text = String(decoding: data, as: UTF8.self)
    do { return (text, try ModelEntry.parse(text)) } catch { fail("\(file): \(error)") }
}

extension ModelCommandGroup {
    struct Deploy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a model to the running cluster as a challenger (scored on every record, shadow).",
            discussion: """
            SPEC is a TOML file: name = "NAME" and the [model] keys that describe one model
            (type, learning_rate, optimizer, l2, standardize, ...), plus features = [...] (the
            dense features it reads; default all), hashed = true|false and ab_share = 0.0.
            Every worker starts scoring it at the same model version, within a sync interval.
            With --weights a file of tools/export_sklearn.py (tributary.model/2: a text
            pipeline, neural network or tree ensemble), the model is that pre-trained one,
            served as it is (the spec's type names its task).
            """)
        @OptionGroup var target: ModelTarget
        @Argument(help: "The model spec file.") var spec: String
        @Option(help: "Start from these weights (a file written by `model export`), or serve this pre-trained model (tools/export_sklearn.py).") var weights: String?
        func run() throws {
            let (text, entry) = readModelSpec(spec)
            var initial: [Double] = []
            var pretrained = ""
            if let w = weights {
                guard let data = FileManager.default.contents(atPath: w) else { fail("cannot read \(w)") }
                if String(decoding: data.prefix(4096), as: UTF8.self).contains(PretrainedPipeline.currentFormat) {
                    pretrained = String(decoding: data, as: UTF8.self)
                } else {
                    initial = readModelFile(w).parameters
                }
            }
            let u = target.send(ModelCommand(action: "deploy", parameters: initial, spec: text, pretrained: pretrained))
            say("deployed model \(entry.name) at global model version \(u.version)")
        }
    }

    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a challenger the champion: its predictions go to the output topic from the next version on, on every worker.")
        @OptionGroup var target: ModelTarget
        @Argument(help: "The model's name.") var name: String
        func run() throws {
            let u = target.send(ModelCommand(action: "promote", name: name))
            say("model \(name) is the champion from global model version \(u.version) on")
        }
    }

    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a challenger from the running cluster.")
        @OptionGroup var target: ModelTarget
        @Argument(help: "The model's name.") var name: String
        func run() throws {
            let u = target.send(ModelCommand(action: "retire", name: name))
            say("retired model \(name) at global model version \(u.version)")
        }
    }

    struct AB: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ab", abstract: "Route a share of keys (a stable hash of the key) to a challenger's predictions.")
        @OptionGroup var target: ModelTarget
        @Argument(help: "The challenger's name.") var name: String
        @Argument(help: "The share of keys, 0 to 1 (0 = shadow only).") var share: Double
        func run() throws {
            guard share >= 0 && share <= 1 else { fail("share \(share) is outside 0...1") }
            let u = target.send(ModelCommand(action: "ab", name: name, share: share))
            say("model \(name) makes the predictions of \(share * 100)% of keys from global model version \(u.version) on")
        }
    }
}
