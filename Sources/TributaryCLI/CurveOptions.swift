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
