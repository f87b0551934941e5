/// Builds the prediction record's JSON into a reused byte buffer: no Foundation, no
/// per-record allocation once the buffer has grown. The output shape (docs/PROTOCOL.md):
/// {"partition":0,"offset":42,"key":"u17","score":0.73,"label":1,"model_version":3,
///  "worker":"host-123","epoch":2,"ts":1700000000.042}
public struct OutputWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// The model, version, worker and epoch fields as last written, and what they were.
    private var middle: (model: String, version: Int, worker: String, epoch: Int, bytes: [UInt8])?

    public init() { bytes.reserveCapacity(256) }

    public mutating func prediction(partition: Int32, offset: Int64, key: String, score: Double,
                                    label: Double?, model: String = "", modelVersion: Int, worker: String, epoch: Int,
                                    timestamp: Double?, features: [Double]? = nil,
                                    classes: [String]? = nil, predicted: Int = 0, probabilities: [Double] = []) {
        bytes.removeAll(keepingCapacity: true)
        raw("{\"partition\":"); int(Int64(partition))
        raw(",\"offset\":"); int(offset)
        raw(",\"key\":"); string(key)
        raw(",\"score\":"); double(score)
        if let classes {
            // Multiclass: the predicted class, every class's probability, the label by name.
            raw(",\"prediction\":"); string(classes[predicted])
            raw(",\"probabilities\":{")
            for (k, name) in classes.enumerated() {
                if k > 0 { raw(",") }
                string(name); raw(":"); double(probabilities[k])
            }
            raw("}")
            if let label, label >= 0, Int(label) < classes.count { raw(",\"label\":"); string(classes[Int(label)]) }
        } else if let label { raw(",\"label\":"); double(label) }
        if let m = middle, m.model == model, m.version == modelVersion, m.worker == worker, m.epoch == epoch {
            bytes.append(contentsOf: m.bytes)
        } else {
            // The same for every record until the version or epoch moves: written once and
            // copied (the four fields, escaped, were ~a third of the record's cost).
            let from = bytes.count
            if !model.isEmpty { raw(",\"model\":"); string(model) }
            raw(",\"model_version\":"); int(Int64(modelVersion))
            raw(",\"worker\":"); string(worker)
            raw(",\"epoch\":"); int(Int64(epoch))
            middle = (model, modelVersion, worker, epoch, Array(bytes[from...]))
        }
        if let timestamp { raw(",\"ts\":"); double(timestamp) }
        if let features {
            // The dense inputs as computed (before scaling), for audits and replay checks.
            raw(",\"features\":[")
            for (i, f) in features.enumerated() {
                if i > 0 { raw(",") }
                double(f)
            }
            raw("]")
        }
        raw("}")
    }

    @inline(__always) mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func int(_ v: Int64) {
        if v == 0 { bytes.append(0x30); return }
        var x = v.magnitude
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { buf in
            while x > 0 { buf[n] = UInt8(x % 10) + 0x30; x /= 10; n += 1 }
            for i in stride(from: n - 1, through: 0, by: -1) { bytes.append(buf[i]) }
        }
    }

    mutating func double(_ v: Double) {
        // JSON has no NaN/Infinity; a model never emits them (guarded), but be safe.
        guard v.isFinite else { raw("null"); return }
        if v == v.rounded(), abs(v) < 1e15 { int(Int64(v)); return }
        // Swift's description (the shortest string that round-trips), written straight into
        // the buffer: `description` allocated a String per value of more than 15 characters.
        v.write(to: &self)
    }

    mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        // Keys, names and ids rarely need escaping: then one copy of the whole string.
        let plain = s.utf8.withContiguousStorageIfAvailable { u -> Bool in
            guard !u.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: u)
            return true
        }
        if plain == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                raw("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(hex[Int(c >> 4)]); bytes.append(hex[Int(c & 15)])
            default: bytes.append(c)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// `Double.write(to:)` hands its digits to `_writeASCII` as a buffer (the same digits as
/// `description`); taking them here skips the String in between.
extension OutputWriter: TextOutputStream {
    public mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
    public mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
}
