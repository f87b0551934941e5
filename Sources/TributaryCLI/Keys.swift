import ArgumentParser
import Config
import Foundation
import ZeroMQ

/// `--key` / `--server-key` for every client of a coordinator that runs with CURVE.
struct CurveOptions: ParsableArguments {
    @Option(help: "This client's key file (`tributary keys generate NAME` writes NAME.key); needed when the coordinator has [security] curve = true.")
    var key: String?
    @Option(help: "The coordinator's public key: the 40-character key, or the file holding it (e.g. coordinator.pub).")
    var serverKey: String?

    /// nil when neither is given (plain mode); exits with a clear error when one is missing
    /// or a file holds no usable key.
    func client() -> CurveClient? {
        guard key != nil || serverKey != nil else { return nil }
        guard let key else { fail("--server-key needs --key (this client's key file)") }
        guard let serverKey else { fail("--key needs --server-key (the coordinator's public key or its .pub file)") }
        let mine = CurveKeyText.parse(readText(key, what: "--key"))
        guard let secret = mine.secretKey, let pair = CurveKeyPair(secretKey: secret) else {
            fail("--key \(key) holds no secret key (expected a line secret = \"...\" from `tributary keys generate`)")
        }
        let server = CurveKeyText.isKey(serverKey) ? serverKey : CurveKeyText.parse(readText(serverKey, what: "--server-key")).publicKey
        guard let server else { fail("--server-key \(serverKey) is neither a 40-character key nor a file holding one") }
        return CurveClient(serverKey: server, keys: pair)
    }

    private func readText(_ path: String, what: String) -> String {
        guard let d = FileManager.default.contents(atPath: path) else { fail("\(what) \(path): cannot read the file") }
        return String(decoding: d, as: UTF8.self)
    }
}

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
