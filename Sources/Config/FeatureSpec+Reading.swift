#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Features
import Models

extension FeatureSpec {
    /// Reads `[features]`. Every rule that would make the pipeline ambiguous or undefined is
    /// checked here, so a worker never starts with a spec it cannot run.
    init(reading t: inout TableReader) throws(ConfigError) {
        self.init()
        key = try t.string("key", key)
        repartition = try t.bool("repartition", repartition)
        timestamp = try t.string("timestamp", timestamp)
        timestampUnit = TimestampUnit(rawValue: try t.string("timestamp_unit", timestampUnit.rawValue,
                                                             oneOf: TimestampUnit.allCases.map(\.rawValue)))!
        label = try t.string("label", label)
        numeric = try t.strings("numeric", numeric)
        hashBits = try t.int("hash_bits", hashBits, min: 1, max: 24)
        ttlSeconds = try t.double("ttl_s", ttlSeconds, min: 0)
        allowedLatenessSeconds = try t.double("allowed_lateness_s", allowedLatenessSeconds, min: 0)
        lateRecords = LatePolicy(rawValue: try t.string("late_records", lateRecords.rawValue,
                                                        oneOf: LatePolicy.allCases.map(\.rawValue)))!
        onBadValue = BadValuePolicy(rawValue: try t.string("on_bad_value", onBadValue.rawValue,
                                                           oneOf: BadValuePolicy.allCases.map(\.rawValue)))!
        defaultValue = try t.double("default_value", defaultValue)
        maxTextBytes = try t.int("max_text_bytes", maxTextBytes, min: 1, max: 64 << 20)
        emit = try t.bool("emit", emit)
        categorical = []
        for var c in try t.tables("categorical") {
            let field = try required(&c, "field")
            let enc = Encoding(rawValue: try c.string("encoding", "hashed", oneOf: Encoding.allCases.map(\.rawValue)))!
            let values = try c.strings("values", [])
            if enc == .onehot && values.isEmpty {
                throw ConfigError(line: c.table.line, key: "\(c.path).values", "one-hot encoding needs the list of values")
            }
            try c.finish()
            categorical.append(Categorical(field: field, encoding: enc, values: values))
        }
        text = []
        for var c in try t.tables("text") {
            let field = try required(&c, "field")
            let ngrams = try c.int("ngrams", 2, min: 1, max: 2)
            try c.finish()
            text.append(TextField(field: field, ngrams: ngrams))
        }
        if t.table["aggregates"] != nil {
            aggregates = []
            for var a in try t.tables("aggregates") {
                let field = try a.string("field", "")
                var stats: [Stat] = []
                for s in try a.strings("stats", ["mean", "count"]) {
                    guard let st = Stat(rawValue: s) else {
                        throw ConfigError(line: a.table["stats"]?.line ?? a.table.line, key: "\(a.path).stats",
                                          "'\(s)' is not one of \(Stat.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    stats.append(st)
                }
                if stats.isEmpty { throw ConfigError(line: a.table.line, key: "\(a.path).stats", "must name at least one stat") }
                if field.isEmpty, let s = stats.first(where: { $0 != .count && $0 != .sinceLast }) {
                    throw ConfigError(line: a.table.line, key: "\(a.path).field",
                                      "is required for '\(s.rawValue)' (only count and since_last work without a field)")
                }
                let kindName = try a.string("window", "none", oneOf: WindowKind.allCases.map(\.rawValue))
                var w = Window(kind: WindowKind(rawValue: kindName)!)
                w.size = try a.double("size_s", 0, min: 0)
                w.hop = try a.double("hop_s", 0, min: 0)
                w.gap = try a.double("gap_s", 0, min: 0)
                let alpha = try a.double("alpha", 0.5, min: 1e-9, max: 1)
                let line = a.table.line
                switch w.kind {
                case .none:
                    break
                case .tumbling, .sliding:
                    if w.size <= 0 { throw ConfigError(line: line, key: "\(a.path).size_s", "a \(kindName) window needs size_s > 0") }
                case .hopping:
                    if w.size <= 0 || w.hop <= 0 {
                        throw ConfigError(line: line, key: "\(a.path).hop_s", "a hopping window needs size_s > 0 and hop_s > 0")
                    }
                    let k = w.size / w.hop
                    if k != k.rounded() || k > 1000 {
                        throw ConfigError(line: line, key: "\(a.path).hop_s",
                                          "size_s (\(w.size)) must be a multiple of hop_s (\(w.hop)), at most 1000 hops")
                    }
                case .session:
                    if w.gap <= 0 { throw ConfigError(line: line, key: "\(a.path).gap_s", "a session window needs gap_s > 0") }
                }
                if w.kind != .none, let s = stats.first(where: \.unwindowedOnly) {
                    throw ConfigError(line: a.table["stats"]?.line ?? line, key: "\(a.path).stats",
                                      "'\(s.rawValue)' is only defined without a window (it depends on event order across the key's whole history)")
                }
                try a.finish()
                aggregates.append(Aggregate(field: field, stats: stats, window: w, alpha: alpha))
            }
        }
        targetEncoding = []
        for var c in try t.tables("target_encoding") {
            let field = try required(&c, "field")
            let smoothing = try c.double("smoothing", 10, min: 0)
            try c.finish()
            targetEncoding.append(TargetEncoding(field: field, smoothing: smoothing))
        }
        if key.isEmpty { throw ConfigError(line: t.table["key"]?.line ?? 0, key: "features.key", "must not be empty") }
        if needsEventTime && timestamp.isEmpty {
            throw ConfigError(line: t.table["timestamp"]?.line ?? 0, key: "features.timestamp",
                              "windows, ttl_s and since_last need an event-time field")
        }
        if !targetEncoding.isEmpty && label.isEmpty {
            throw ConfigError(line: t.table["label"]?.line ?? 0, key: "features.label", "target encoding needs a label field")
        }
        if denseNames.isEmpty && hashedWidth == 0 {
            throw ConfigError(line: t.table.line, key: "features", "no features: give 'numeric', 'categorical', 'text', 'aggregates' or 'target_encoding'")
        }
    }
}

private func required(_ t: inout TableReader, _ key: String) throws(ConfigError) -> String {
    let v = try t.string(key, "")
    if v.isEmpty { throw ConfigError(line: t.table.line, key: "\(t.path).\(key)", "is required") }
    return v
}
