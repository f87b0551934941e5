// libFuzzer targets for the parsers that take bytes from outside (issue 10): the event JSON
// scanner and feature pipeline, the control-plane wire decoder, the cluster.conf parser, and
// (issue 20) numbers of any length and ISO-8601 times.
// Built by scripts/fuzz with `-sanitize=fuzzer,address` against the library modules that
// SwiftPM builds with the same instrumentation; TRIBUTARY_FUZZ picks the target.
// Each call must end in a value or a typed error: a crash, a trap or a sanitizer report is
// a finding.
#if canImport(Glibc)
import Glibc
#endif
import Config
import Features
import Wire

/// A spec with every feature kind, so the fuzzer reaches every part of the pipeline.
let spec: FeatureSpec = {
    let text = """
    [features]
    key = "user"
    timestamp = "ts"
    label = "y"
    numeric = ["x.f0", "x.f1", "x.deep.v"]
    categorical = [
      { field = "country", encoding = "onehot", values = ["fr", "de", "us"] },
      { field = "merchant", encoding = "hashed" },
    ]
    text = [{ field = "title", ngrams = 2 }]
    hash_bits = 10
    max_text_bytes = 4096
    emit = true
    aggregates = [
      { field = "x.f0", stats = ["count", "mean", "variance", "ewma", "min", "max"] },
      { field = "x.f1", stats = ["sum"], window = "tumbling", size_s = 1 },
      { field = "x.f0", stats = ["mean"], window = "sliding", size_s = 2 },
    ]
    target_encoding = [{ field = "country", smoothing = 5 }]
    """
    do { return try ClusterConfig.parse(text).features } catch { fatalError("fuzz spec: \(error)") }
}()

let numberParser = EventParser(keyPath: "k", timestampPath: "", labelPath: "", numericPaths: ["v"])

nonisolated(unsafe) var features = PartitionFeatures(spec: spec)
nonisolated(unsafe) var fed = 0

let target: String = {
    guard let p = getenv("TRIBUTARY_FUZZ") else { return "event" }
    return String(cString: p)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case "wire":
        // The first byte splits the rest into the frames of one message.
        let rest = Array(bytes.dropFirst())
        let cut = rest.isEmpty ? 0 : Int(bytes.first ?? 0) % (rest.count + 1)
        let frames: [[UInt8]] = (bytes.first ?? 0) & 0x80 != 0
            ? [Array(rest[..<cut]), Array(rest[cut...]), []]
            : [Array(rest[..<cut]), Array(rest[cut...])]
        _ = try? WireCodec.decode(frames[...])
    case "config":
        _ = try? ClusterConfig.parse(String(decoding: bytes, as: UTF8.self))
    case "number":
        // The bytes as a number token: whatever the scanner accepts must read exactly as
        // strtod reads it (Swift's Double(String), correctly rounded), whatever its length.
        let token = String(decoding: bytes.prefix { $0 > 0x20 && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "}") }, as: UTF8.self)
        var event = numberParser.makeEvent()
        guard (try? numberParser.parse(Array(#"{"k":"a","v":\#(token)}"#.utf8), into: &event)) != nil,
              event.status[0] == .present || event.status[0] == .notFinite, let expected = Double(token) else { break }
        if event.status[0] == .present {
            if event.values[0].bitPattern != expected.bitPattern && !(event.values[0] == 0 && expected == 0) {
                fatalError("number \(token): scanner read \(event.values[0]), strtod \(expected)")
            }
        } else if expected.isFinite {
            fatalError("number \(token): scanner said not finite, strtod read \(expected)")
        }
    case "timestamp":
        // Any bytes as an ISO-8601 time: a value or nil, never a trap; a value is finite.
        let t = bytes.withUnsafeBytes { ISO8601Time.seconds($0) }
        if let t, !t.isFinite { fatalError("ISO-8601 \(String(decoding: bytes, as: UTF8.self)) read as \(t)") }
    default:
        // Per-key state carries over between inputs, as it does between records; a fresh
        // partition now and then keeps memory bounded.
        fed += 1
        if fed % 10_000 == 0 { features = PartitionFeatures(spec: spec) }
        _ = try? features.feed(bytes)
    }
    return 0
}
