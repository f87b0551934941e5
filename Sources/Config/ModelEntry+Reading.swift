#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Features
import Models

extension ModelEntry {
    /// A challenger's table (`[challengers.NAME]`, or a `tributary model deploy` spec file):
    /// the [model] keys that describe one model, plus `features`, `hashed` and `ab_share`.
    init(reading t: inout TableReader, name: String, syncIntervalMs: Int) throws(ConfigError) {
        // Sync, merge and checkpoints are the cluster's (one parameter vector for every
        // model), so they are set once, in [model].
        for key in ["sync_interval_ms", "sync_every_samples", "merge", "server_learning_rate", "server_momentum", "reference_sample", "reference_warn", "delta_compression", "version_compression", "checkpoint_file", "keep_versions", "robust_averaging", "robust_factor", "weights_file", "mode"]
        where t.table[key] != nil {
            throw ConfigError(line: t.table[key]!.line, key: t.full(key), "is set for the whole cluster in [model], not per model")
        }
        var spec = try ModelSpec(reading: &t)
        spec.syncIntervalMs = syncIntervalMs
        self.init(name: name, spec: spec, features: try t.strings("features", []), hashed: try t.bool("hashed", true),
                  abShare: try t.double("ab_share", 0, min: 0, max: 1))
        try t.finish()
    }

    /// A model spec file for `tributary model deploy` and `tributary replay`: `name = "..."`
    /// and the keys of a `[challengers.NAME]` table. The coordinator parses the text a deploy
    /// command carries with this too, so a spec from the wire has exactly the bounds a file
    /// has; it also checks it against the cluster's features.
    public static func parse(_ text: String, syncIntervalMs: Int = 0) throws(ConfigError) -> ModelEntry {
        var t = TableReader(try TOMLParser.parse(text), path: "")
        let name = try t.string("name", "")
        if let why = ModelLayout.nameProblem(name) {
            throw ConfigError(line: t.table["name"]?.line ?? 0, key: "name", name.isEmpty ? "is required (the model's name)" : why)
        }
        return try ModelEntry(reading: &t, name: name, syncIntervalMs: syncIntervalMs)
    }
}
