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
