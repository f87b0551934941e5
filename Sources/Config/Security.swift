/// `[security]`: CURVE authentication and encryption of every ZeroMQ link (docs/CONFIG.md).
public struct SecuritySection: Sendable, Codable, Equatable {
    /// Off: plain TCP, for the local demo (the coordinator warns when bound beyond loopback).
    public var curve = false
    /// The coordinator's key file (`tributary keys generate`), relative to cluster.conf.
    public var secretKeyFile = ""
    /// Public keys (Z85) of the workers allowed in: they may register, take partitions, send
    /// model deltas and run model commands.
    public var workerKeys: [String] = []
    /// Public keys (Z85) allowed to read status, and nothing else.
    public var statusKeys: [String] = []
    /// The coordinator's secret key, read from `secretKeyFile` by `ClusterConfig.parse`. Never
    /// encoded: the configuration travels to every worker in its welcome.
    public var secretKey: String? = nil

    enum CodingKeys: String, CodingKey { case curve, secretKeyFile, workerKeys, statusKeys }

    public init() {}

    init(reading t: inout TableReader) throws(ConfigError) {
        curve = try t.bool("curve", curve)
        secretKeyFile = try t.string("secret_key_file", secretKeyFile)
        workerKeys = try t.strings("worker_keys", workerKeys)
        statusKeys = try t.strings("status_keys", statusKeys)
        for (name, keys) in [("worker_keys", workerKeys), ("status_keys", statusKeys)] {
            for (i, k) in keys.enumerated() where !CurveKeyText.isKey(k) {
                throw ConfigError(line: t.table[name]?.line ?? 0, key: t.full(name) + "[\(i)]",
                                  "'\(k.prefix(48))' is not a CURVE public key (40 Z85 characters, from `tributary keys generate`)")
            }
        }
        if curve && secretKeyFile.isEmpty {
            throw ConfigError(line: t.table["curve"]?.line ?? 0, key: t.full("secret_key_file"),
                              "is required with curve = true (create one with `tributary keys generate coordinator`)")
        }
        if curve && workerKeys.isEmpty {
            throw ConfigError(line: t.table["curve"]?.line ?? 0, key: t.full("worker_keys"),
                              "is empty: with curve = true no worker could join")
        }
    }
}

/// The key files `tributary keys generate NAME` writes, and what reads them:
///
///     # CURVE key pair (NAME.key: keep it private)
///     public = "<40 Z85 characters>"
///     secret = "<40 Z85 characters>"
///
/// `NAME.pub` holds the `public` line only. A reader also takes a bare key on a line.
public enum CurveKeyText {
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// 40 characters of the Z85 alphabet: the text form of a 32-byte key.
    public static func isKey(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { alphabet.contains($0) }
    }

    /// The `public` and `secret` keys in a key file's text (a bare key counts as public).
    public static func parse(_ text: String) -> (publicKey: String?, secretKey: String?) {
        var pub: String?, sec: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if isKey(line) { pub = pub ?? line; continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            var v = parts[1]
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
            guard isKey(v) else { continue }
            if parts[0] == "public" { pub = v }
            if parts[0] == "secret" { sec = v }
        }
        return (pub, sec)
    }

    public static func format(publicKey: String, secretKey: String?, name: String) -> String {
        var s = secretKey == nil ? "# CURVE public key of \(name) (share it: it goes into cluster.conf or --server-key)\n"
                                 : "# CURVE key pair of \(name) (keep this file private)\n"
        s += "public = \"\(publicKey)\"\n"
        if let secretKey { s += "secret = \"\(secretKey)\"\n" }
        return s
    }
}
