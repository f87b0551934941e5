import CKafka

/// librdkafka settings as plain `key = value` strings (librdkafka's CONFIGURATION.md names).
/// Built into an `rd_kafka_conf_t` only when a handle is created, so a bad key or value is
/// reported with its name before anything connects.
public struct KafkaClientConfig: Sendable, Equatable {
    public var settings: [(String, String)] = []

    public init(_ settings: [String: String] = [:]) {
        for (k, v) in settings.sorted(by: { $0.key < $1.key }) { self.settings.append((k, v)) }
    }

    public subscript(key: String) -> String? {
        get { settings.last(where: { $0.0 == key })?.1 }
        set {
            settings.removeAll { $0.0 == key }
            if let newValue { settings.append((key, newValue)) }
        }
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.settings.map { "\($0.0)=\($0.1)" } == b.settings.map { "\($0.0)=\($0.1)" }
    }

    /// Creates a fresh `rd_kafka_conf_t`; the caller owns it (and hands it to `rd_kafka_new`).
    func makeConf() throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: -1, message: "rd_kafka_conf_new failed")
        }
        var errbuf = [CChar](repeating: 0, count: 512)
        for (key, value) in settings {
            let res = rd_kafka_conf_set(conf, key, value, &errbuf, errbuf.count)
            if res != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let why = cString(errbuf)
                throw KafkaError(code: -1, message: "Kafka setting '\(key)' = '\(value)' rejected: \(why)")
            }
        }
        return conf
    }
}

/// Creates an `rd_kafka_t`; on failure the conf is destroyed and librdkafka's reason thrown.
func makeHandle(_ type: rd_kafka_type_t, _ conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
    var errbuf = [CChar](repeating: 0, count: 512)
    guard let rk = rd_kafka_new(type, conf, &errbuf, errbuf.count) else {
        // rd_kafka_new only takes ownership of conf on success.
        rd_kafka_conf_destroy(conf)
        throw KafkaError(code: -1, message: "cannot create Kafka client: \(cString(errbuf))")
    }
    return rk
}
