import ArgumentParser
import Config
import Foundation
import ZeroMQ

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "CURVE keys for an authenticated, encrypted control plane.", subcommands: [Generate.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write NAME.key (the key pair, private: mode 0600) and NAME.pub (the public key, to share).",
            discussion: """
            The coordinator's NAME.key goes into security.secret_key_file; each worker's public key into
            security.worker_keys (status readers' into security.status_keys); workers and status
            clients run with --key NAME.key --server-key coordinator.pub.
            """)
        @Argument(help: "Name of the key pair (file names NAME.key and NAME.pub).") var name: String
        @Option(help: "Directory to write to.") var dir: String = "."
        @Flag(help: "Replace existing files.") var force = false

        func run() throws {
            let pair: CurveKeyPair
            do { pair = try CurveKeyPair.generate() } catch { fail("cannot generate a key pair: \(error)") }
            let secretPath = "\(dir)/\(name).key", publicPath = "\(dir)/\(name).pub"
            for p in [secretPath, publicPath] where !force && FileManager.default.fileExists(atPath: p) {
                fail("\(p) exists (use --force to replace it)")
            }
            let ok = FileManager.default.createFile(
                atPath: secretPath, contents: Data(CurveKeyText.format(publicKey: pair.publicKey, secretKey: pair.secretKey, name: name).utf8),
                attributes: [.posixPermissions: 0o600])
            guard ok, FileManager.default.createFile(
                atPath: publicPath, contents: Data(CurveKeyText.format(publicKey: pair.publicKey, secretKey: nil, name: name).utf8))
            else { fail("cannot write \(secretPath) / \(publicPath)") }
            say("wrote \(secretPath) (private) and \(publicPath)")
            say("public key: \(pair.publicKey)")
        }
    }
}
