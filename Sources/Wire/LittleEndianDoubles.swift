/// Float64 arrays to and from little-endian bytes. On a little-endian host (every platform
/// Tributary builds for) that is one memory copy, not a loop: a 2^24-weight model is 128 MiB,
/// and the per-element loop spent most of a debug build's time in generic dispatch
/// (measured with perf on the model-store test); the loop stays for big-endian hosts.
public enum LittleEndianDoubles {
    public static func bytes(_ v: [Double]) -> [UInt8] {
        #if _endian(little)
        return v.withUnsafeBytes { Array($0) }
        #else
        var out = [UInt8](repeating: 0, count: v.count * 8)
        out.withUnsafeMutableBytes { buf in
            for i in 0..<v.count { buf.storeBytes(of: v[i].bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
        }
        return out
        #endif
    }

    /// Appends `v`'s bytes to `out`.
    public static func append(_ v: [Double], to out: inout [UInt8]) {
        #if _endian(little)
        v.withUnsafeBytes { out.append(contentsOf: $0) }
        #else
        out += bytes(v)
        #endif
    }

    /// `count` doubles from `bytes[offset...]` (the caller checked the length).
    public static func doubles(_ bytes: [UInt8], offset: Int = 0, count: Int) -> [Double] {
        precondition(offset >= 0 && count >= 0 && bytes.count - offset >= count * 8)
        return [Double](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { src in
                #if _endian(little)
                if count > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: src.baseAddress! + offset, byteCount: count * 8) }
                #else
                for i in 0..<count {
                    out[i] = Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: offset + i * 8, as: UInt64.self)))
                }
                #endif
            }
            initialized = count
        }
    }
}
