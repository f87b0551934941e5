import Foundation

/// Count arrays (AUC bins, confusion matrices) as one JSON string: zigzag LEB128 varints,
/// base64. Every heartbeat carries four 256-bin arrays; as JSON numbers they took the
/// coordinator ~490 µs to decode per heartbeat (`tributary bench-scale`), which at 1,000
/// workers and 2 heartbeats a second is the whole loop. A string is one token to the decoder.
public enum PackedCounts {
    public static func encode(_ v: [Int64]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(v.count + 8)
        for x in v {
            var z = UInt64(bitPattern: (x << 1) ^ (x >> 63))
            while z >= 0x80 {
                bytes.append(UInt8(z & 0x7F) | 0x80)
                z >>= 7
            }
            bytes.append(UInt8(z))
        }
        return Data(bytes).base64EncodedString()
    }

    /// nil when the text is not base64 or a varint is torn or too long.
    public static func decode(_ text: String) -> [Int64]? {
        guard let data = Data(base64Encoded: text) else { return nil }
        var out: [Int64] = []
        out.reserveCapacity(data.count)
        var z: UInt64 = 0, shift: UInt64 = 0
        for b in data {
            guard shift < 64 else { return nil }
            z |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                out.append(Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
                z = 0
                shift = 0
            } else {
                shift += 7
            }
        }
        return shift == 0 ? out : nil
    }
}
