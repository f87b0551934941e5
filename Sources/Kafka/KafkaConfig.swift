import CKafka
#if canImport(Glibc)
import Glibc
#endif

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
            throw KafkaError(.clientCreation, message: "rd_kafka_conf_new failed")
        }
        var errbuf = [CChar](repeating: 0, count: 512)
        for (key, raw) in settings {
            let value: String
            do { value = try Self.resolve(key: key, raw) } catch {
                rd_kafka_conf_destroy(conf)
                throw error
            }
            let res = rd_kafka_conf_set(conf, key, value, &errbuf, errbuf.count)
            if res != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let why = cString(errbuf)
                throw KafkaError(.configuration, message: "Kafka setting '\(key)' = \(Self.shown(key: key, raw)) rejected: \(why)")
            }
        }
        return conf
    }

    /// Secrets stay out of cluster.conf (which travels to every worker): a value
    /// `${env:NAME}` is read from the environment, `${file:PATH}` from a file (trailing
    /// newline dropped), each in the process that creates the client, at that moment.
    static func resolve(key: String, _ raw: String) throws(KafkaError) -> String {
        guard raw.hasPrefix("${"), raw.hasSuffix("}") else { return raw }
        let ref = raw.dropFirst(2).dropLast()
        if ref.hasPrefix("env:") {
            let name = String(ref.dropFirst(4))
            guard let v = getenv(name) else {
                throw KafkaError(.configuration, message: "Kafka setting '\(key)': environment variable \(name) is not set")
            }
            return String(cString: v)
        }
        if ref.hasPrefix("file:") {
            let path = String(ref.dropFirst(5))
            guard let f = fopen(path, "rb") else {
                throw KafkaError(.configuration, message: "Kafka setting '\(key)': cannot read \(path): \(String(cString: strerror(errno)))")
            }
            defer { fclose(f) }
            var bytes: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buf, 1, buf.count, f)
                if n <= 0 { break }
                bytes.append(contentsOf: buf[0..<n])
            }
            while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
        return raw
    }

    /// How a setting's value may appear in a message: secrets never.
    static func shown(key: String, _ raw: String) -> String {
        let k = key.lowercased()
        let secret = ["password", "secret", "key.pem", "private", "token", "sasl.jaas", "sasl.oauthbearer.config"].contains { k.contains($0) }
        return secret && !raw.hasPrefix("${") ? "(secret, not shown)" : "'\(raw)'"
    }
}

/// Creates an `rd_kafka_t`; on failure the conf is destroyed and librdkafka's reason thrown.
func makeHandle(_ type: rd_kafka_type_t, _ conf: OpaquePointer) throws(KafkaError) -> OpaquePointer {
    var errbuf = [CChar](repeating: 0, count: 512)
    guard let rk = rd_kafka_new(type, conf, &errbuf, errbuf.count) else {
        // rd_kafka_new only takes ownership of conf on success.
        rd_kafka_conf_destroy(conf)
        throw KafkaError(.clientCreation, message: "cannot create Kafka client: \(cString(errbuf))")
    }
    return rk
}
