/// A bench run of a model trained offline (`tools/bench_models.py`): its config sections and
/// input topic.
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
}
