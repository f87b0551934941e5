import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with cluster.conf.", subcommands: [Check.self])
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a cluster.conf; errors name the key and line.")
        @Argument(help: "Path of the file.") var file: String = "cluster.conf"
        func run() throws {
            let cfg = loadConfig(file)
            say("\(file): OK (input \(cfg.kafka.inputTopic), \(cfg.features.width) model inputs, bootstrap \(cfg.kafka.bootstrap))")
        }
    }
}
