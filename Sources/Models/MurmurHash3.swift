/// MurmurHash3 x86 32-bit (Austin Appleby's reference), the hash scikit-learn's
/// `HashingVectorizer` / `FeatureHasher` use (`sklearn.utils.murmurhash3_32` over a token's
/// UTF-8 bytes, seed 0, read as a signed 32-bit number). Hand-written: no Swift package
/// carries this variant, and the served text features must be scikit-learn's bit for bit.
public enum MurmurHash3 {
    @inline(__always) static func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }

    public static func x86_32(_ bytes: UnsafeBufferPointer<UInt8>, seed: UInt32 = 0) -> Int32 {
        let c1: UInt32 = 0xcc9e_2d51, c2: UInt32 = 0x1b87_3593
        var h = seed
        let n = bytes.count
        let blocks = n / 4
        for i in 0..<blocks {
            let j = i * 4
            var k = UInt32(bytes[j]) | UInt32(bytes[j + 1]) << 8 | UInt32(bytes[j + 2]) << 16 | UInt32(bytes[j + 3]) << 24
            k = k &* c1
            k = rotl(k, 15)
            k = k &* c2
            h ^= k
            h = rotl(h, 13)
            h = h &* 5 &+ 0xe654_6b64
        }
        var k: UInt32 = 0
        let tail = blocks * 4
        switch n & 3 {
        case 3:
            k ^= UInt32(bytes[tail + 2]) << 16
            fallthrough
        case 2:
            k ^= UInt32(bytes[tail + 1]) << 8
            fallthrough
        case 1:
            k ^= UInt32(bytes[tail])
            k = k &* c1
            k = rotl(k, 15)
            k = k &* c2
            h ^= k
        default: break
        }
        h ^= UInt32(truncatingIfNeeded: n)
        h ^= h >> 16
        h = h &* 0x85eb_ca6b
        h ^= h >> 13
        h = h &* 0xc2b2_ae35
        h ^= h >> 16
        return Int32(bitPattern: h)
    }

    public static func x86_32(_ s: String, seed: UInt32 = 0) -> Int32 {
        var s = s
        return s.withUTF8 { x86_32($0, seed: seed) }
    }
}
