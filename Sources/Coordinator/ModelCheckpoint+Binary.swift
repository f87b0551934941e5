import Foundation
import Models
import Wire

/// The binary form of a checkpoint (model topic and `model.checkpoint_file`): a 2^20-weight
/// model is 8 MiB of float64 instead of ~20 MB of JSON text, and a mostly-zero one (hashed
/// text) is stored sparse, as (index, value) pairs, when that is smaller.
///
/// Layout, little-endian: "TRBP", meta length (u32), meta (JSON: version, features, wall
/// time, scaler, layout: small), encoding (0 dense, 1 sparse), parameter count (u64), then
/// dense: count float64; sparse: nonzero count (u64), that many u32 indices, then their float64.
extension ModelCheckpoint {
    static let payloadMagic: [UInt8] = Array("TRBP".utf8)

    private struct Meta: Codable {
        var version: Int
        var features: [String]
        var wallMs: Int64
        var scaler: [Double]?
        var layout: ModelLayout?
    }

    public func binary() -> [UInt8] {
        let meta = (try? JSONEncoder().encode(Meta(version: version, features: features, wallMs: wallMs, scaler: scaler, layout: layout))) ?? Data()
        let nonZero = parameters.withUnsafeBufferPointer { p in
            var n = 0, i = 0
            while i < p.count { if p[i].bitPattern != 0 { n += 1 }; i += 1 }
            return n
        }
        // -0.0 is not 0 bitwise: stored, so the round trip is exact.
        let sparse = parameters.count <= Int(UInt32.max) && nonZero * 12 + 8 < parameters.count * 8
        var out = [UInt8]()
        out.reserveCapacity(4 + 4 + meta.count + 9 + (sparse ? 8 + nonZero * 12 : parameters.count * 8))
        out += Self.payloadMagic
        withUnsafeBytes(of: UInt32(meta.count).littleEndian) { out += $0 }
        out += meta
        out.append(sparse ? 1 : 0)
        withUnsafeBytes(of: UInt64(parameters.count).littleEndian) { out += $0 }
        if sparse {
            withUnsafeBytes(of: UInt64(nonZero).littleEndian) { out += $0 }
            var indices = [UInt32](), values = [Double]()
            indices.reserveCapacity(nonZero)
            values.reserveCapacity(nonZero)
            for i in 0..<parameters.count where parameters[i].bitPattern != 0 {
                indices.append(UInt32(i).littleEndian)
                values.append(parameters[i])
            }
            indices.withUnsafeBytes { out += $0 }
            LittleEndianDoubles.append(values, to: &out)
        } else {
            LittleEndianDoubles.append(parameters, to: &out)
        }
        return out
    }

    /// The largest model read back: 2^28 weights (2 GiB of float64); a bigger count is a corrupt header.
    static let maxParameters = 1 << 28

    public init(binary b: [UInt8]) throws(CheckpointError) {
        var at = 0
        func need(_ n: Int) throws(CheckpointError) {
            guard n >= 0, b.count - at >= n else { throw CheckpointError("checkpoint truncated at byte \(at) of \(b.count)") }
        }
        func u32() throws(CheckpointError) -> Int {
            try need(4)
            defer { at += 4 }
            return Int(b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) })
        }
        func u64() throws(CheckpointError) -> UInt64 {
            try need(8)
            defer { at += 8 }
            return b.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        }
        guard b.count >= 4, b.prefix(4).elementsEqual(Self.payloadMagic) else { throw CheckpointError("not a binary checkpoint (no TRBP header)") }
        at = 4
        let metaLength = try u32()
        try need(metaLength)
        let meta: Meta
        do { meta = try JSONDecoder().decode(Meta.self, from: Data(b[at..<at + metaLength])) } catch {
            throw CheckpointError("checkpoint metadata: \(error)")
        }
        at += metaLength
        try need(1)
        let encoding = b[at]
        at += 1
        let count = try u64()
        guard count <= UInt64(Self.maxParameters) else { throw CheckpointError("checkpoint of \(count) parameters (at most \(Self.maxParameters))") }
        var parameters: [Double]
        switch encoding {
        case 0:
            try need(Int(count) * 8)
            parameters = LittleEndianDoubles.doubles(b, offset: at, count: Int(count))
            at += Int(count) * 8
        case 1:
            let nonZero = try u64()
            guard nonZero <= count else { throw CheckpointError("checkpoint with \(nonZero) nonzero of \(count) parameters") }
            let n = Int(nonZero)
            try need(n * 12)
            parameters = [Double](repeating: 0, count: Int(count))
            let indices = at, values = at + n * 4
            var last = -1
            let ok: Bool = b.withUnsafeBytes { buf in
                for k in 0..<n {
                    let i = Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: indices + k * 4, as: UInt32.self)))
                    guard i > last, i < Int(count) else { return false }
                    parameters[i] = Double(bitPattern: UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: values + k * 8, as: UInt64.self)))
                    last = i
                }
                return true
            }
            guard ok else { throw CheckpointError("checkpoint sparse indices must increase and stay below \(count)") }
            at += n * 12
        default:
            throw CheckpointError("checkpoint parameter encoding \(encoding)")
        }
        guard at == b.count else { throw CheckpointError("checkpoint has \(b.count - at) bytes after its parameters") }
        self.init(version: meta.version, parameters: parameters, features: meta.features, wallMs: meta.wallMs,
                  scaler: meta.scaler, layout: meta.layout)
    }

    /// A checkpoint file: binary, or the JSON that older versions wrote.
    public init(file data: [UInt8]) throws(CheckpointError) {
        if data.first == UInt8(ascii: "{") {
            do { self = try JSONDecoder().decode(ModelCheckpoint.self, from: Data(data)) } catch {
                throw CheckpointError("checkpoint file (JSON): \(error)")
            }
        } else {
            try self.init(binary: data)
        }
    }
}
