import ArgumentParser
import Foundation

/// A bench run with its own job: a model trained offline (`tools/bench_models.py`), or one of
/// the examples learnt online. Its config sections and input topic.
struct ServedModel {
    var name: String
    /// The input topic, if not the bench's synthetic events.
    var topic: String?
    /// Lines of [model] after sync_interval_ms, and a [features] section.
    var model: String
    var features: String?

    /// The tweets job: a hashed-text logistic model (HashingVectorizer 2^18) on "text".
    static func tweets(_ dir: String) -> ServedModel {
        ServedModel(name: "pre-trained hashed-text logistic", topic: "tweets",
                    model: "mode = \"inference\"\nweights_file = \"\(dir)/tweets_model.json\"",
                    features: "[features]\nkey = \"user\"\ntimestamp = \"\"\nnumeric = []\naggregates = []\nhash_bits = 1\n[[features.text]]\nfield = \"text\"\nngrams = 1")
    }

    /// A 100-tree random forest on the default stream's 8 features (its aggregates still run).
    static func forest(_ dir: String) -> ServedModel {
        ServedModel(name: "pre-trained 100-tree forest", model: "mode = \"inference\"\nweights_file = \"\(dir)/forest.json\"")
    }

    /// An example's job learnt online (`examples/NAME/cluster.conf`: its [features] section and
    /// the lines of its [model] section), on `topic`. Read from the file, so the bench measures
    /// what the example runs; [labels] is left out (the bench's records carry their labels).
    static func example(_ dir: String, name: String, topic: String) throws -> ServedModel {
        let text = try String(contentsOfFile: dir + "/cluster.conf", encoding: .utf8)
        var sections: [String: String] = [:]
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("[") && !t.hasPrefix("[[") && t.hasSuffix("]") {
                current = String(t.dropFirst().dropLast())
                continue
            }
            sections[current, default: ""] += line + "\n"
        }
        guard let features = sections["features"] else { throw ValidationError("\(dir)/cluster.conf has no [features] section") }
        return ServedModel(name: name, topic: topic, model: sections["model"] ?? "", features: "[features]\n" + features)
    }
}
