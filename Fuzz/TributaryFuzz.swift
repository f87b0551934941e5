// libFuzzer targets for the parsers that take bytes from outside (issue 10): the event JSON
// scanner and feature pipeline, the control-plane wire decoder, and the cluster.conf parser.
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
    default:
        // Per-key state carries over between inputs, as it does between records; a fresh
        // partition now and then keeps memory bounded.
        fed += 1
        if fed % 10_000 == 0 { features = PartitionFeatures(spec: spec) }
        _ = try? features.feed(bytes)
    }
    return 0
}
