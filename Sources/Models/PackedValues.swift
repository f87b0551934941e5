/// A dense delta's values as they came off the wire, read where they lie: validated, their
/// norm taken and merged straight from the received frames, never copied into a vector of
/// doubles first. On the coordinator that copy was the cost of a dense delta (an 8 MiB
/// allocation per 2^20-weight delta, faulted in page by page: `tributary bench-scale`); an
/// int8 delta is read in its 1 MiB. Each value is decoded exactly as `DeltaCompression.decode`
/// decodes it, so merging from here equals merging the decoded vector to the bit.
public struct PackedValues: Sendable, Equatable {
    /// The payload in order; every chunk but the last holds exactly `chunkBytes`.
    public let chunks: [[UInt8]]
    public let chunkBytes: Int
    public let compression: DeltaCompression
    public let count: Int

    /// nil when the bytes do not hold `count` values of this encoding. Chunks split anywhere
    /// but at whole values (or int8 split at all) are joined first.
    public init?(chunks: [[UInt8]], chunkBytes: Int, compression: DeltaCompression, count: Int) {
        let total = chunks.reduce(0) { $0 + $1.count }
        guard count >= 0, total == compression.byteCount(count) else { return nil }
        let width = compression == .float16 ? 2 : 8
        let canonical = chunks.count <= 1 || (compression != .int8 && chunkBytes > 0 && chunkBytes % width == 0
            && chunks.dropLast().allSatisfy { $0.count == chunkBytes })
        if canonical {
            self.chunks = chunks
            self.chunkBytes = chunks.count <= 1 ? max(1, total) : chunkBytes
        } else {
            var joined = [UInt8]()
            joined.reserveCapacity(total)
            for c in chunks { joined += c }
            self.chunks = [joined]
            self.chunkBytes = max(1, total)
        }
        self.compression = compression
        self.count = count
    }

    /// `body(i, value)` for every i in `range` (within 0..<count), in order.
    @inline(__always)
    public func forEach(_ range: Range<Int>, _ body: (Int, Double) -> Void) {
        guard !range.isEmpty else { return }
        switch compression {
        case .none, .float16:
            let w = compression == .none ? 8 : 2
            var i = range.lowerBound
            while i < range.upperBound {
                let c = i * w / chunkBytes, off = i * w - c * chunkBytes
                let chunk = chunks[c]
                let n = min(range.upperBound - i, (chunk.count - off) / w)
                chunk.withUnsafeBytes { b in
                    if w == 8 {
                        for k in 0..<n {
                            body(i + k, Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: off + 8 * k, as: UInt64.self))))
                        }
                    } else {
                        for k in 0..<n {
                            body(i + k, Double(Float16(bitPattern: UInt16(littleEndian: b.loadUnaligned(fromByteOffset: off + 2 * k, as: UInt16.self)))))
                        }
                    }
                }
                i += n
            }
        case .int8:
            let block = DeltaCompression.block
            chunks[0].withUnsafeBytes { b in
                var i = range.lowerBound
                while i < range.upperBound {
                    let k = i / block, at = k * (block + 4)
                    let scale = Double(Float(bitPattern: UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                    let end = min(range.upperBound, (k + 1) * block)
                    for j in i..<end { body(j, Double(b.load(fromByteOffset: at + 4 + (j - k * block), as: Int8.self)) * scale) }
                    i = end
                }
            }
        }
    }

    public func decoded() -> [Double] {
        var out = [Double](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { o in forEach(0..<count) { o[$0] = $1 } }
        return out
    }

    /// Σ value² in index order (as `ModelAveraging.norm` sums a vector), and whether every
    /// value is finite: one pass.
    public func squaresAndFinite() -> (sum: Double, finite: Bool) {
        var s = 0.0
        var finite = true
        forEach(0..<count) { _, v in
            if !v.isFinite { finite = false }
            s += v * v
        }
        return (s, finite)
    }
}
