/// What a served prediction keeps until its label comes (`[labels]`): the exact inputs it was
/// served with and what every model predicted then, so learning and metrics use the features
/// of serving time, not those of when the label arrives. One buffer for the dense inputs and
/// the models' outputs (`values`); the hashed inputs and target values apart, in a box that is
/// nil without them (`LabelSnapshotExtra`): 28 bytes inline, and the buffer.
public struct LabelSnapshot: Sendable, Equatable {
    /// The dense inputs, then each model's output (`outputWidths` of them each).
    public var values: [Double]
    private var extra: LabelSnapshotExtra?
    public var denseCount: Int32
    public var served: Int16
    public var modelVersion: Int32

    public var sparseIndices: [Int32] {
        get { extra?.sparseIndices ?? [] }
        set { extra = .make(sparseIndices: newValue, sparseValues: sparseValues, targets: targets) }
    }
    public var sparseValues: [Double] {
        get { extra?.sparseValues ?? [] }
        set { extra = .make(sparseIndices: sparseIndices, sparseValues: newValue, targets: targets) }
    }
    /// Each target encoding's value in the event (nil: absent): the label joins them when it comes.
    public var targets: [String?] {
        get { extra?.targets ?? [] }
        set { extra = .make(sparseIndices: sparseIndices, sparseValues: sparseValues, targets: newValue) }
    }

    public init(dense: [Double], sparseIndices: [Int], sparseValues: [Double], outputs: [[Double]], served: Int, modelVersion: Int) {
        var v = dense
        v.reserveCapacity(dense.count + outputs.reduce(0) { $0 + $1.count })
        for o in outputs { v += o }
        values = v
        extra = .make(sparseIndices: sparseIndices.map { Int32(truncatingIfNeeded: $0) }, sparseValues: sparseValues, targets: [])
        denseCount = Int32(dense.count)
        self.served = Int16(served)
        self.modelVersion = Int32(truncatingIfNeeded: modelVersion)
    }

    /// `values`: the dense inputs followed by every model's output (`ModelSet.appendOutputs`).
    public init(values: [Double], denseCount: Int, sparseIndices: [Int], sparseValues: [Double], served: Int, modelVersion: Int) {
        self.values = values
        self.denseCount = Int32(denseCount)
        extra = .make(sparseIndices: sparseIndices.map { Int32(truncatingIfNeeded: $0) }, sparseValues: sparseValues, targets: [])
        self.served = Int16(served)
        self.modelVersion = Int32(truncatingIfNeeded: modelVersion)
    }

    public var dense: [Double] { Array(values[..<Int(denseCount)]) }

    /// Resident memory of one waiting prediction with this snapshot, index included: 338
    /// bytes measured for 8 dense features and one output (`tributary bench --only labels`),
    /// of which 8 per value; 12 per hashed feature and 24 per target value on top.
    public var residentBytes: Int { 266 + 8 * values.count + 12 * sparseIndices.count + 24 * targets.count }

    /// Each model's output, given how many numbers each gives.
    public func outputs(widths: [Int]) -> [[Double]] {
        var at = Int(denseCount)
        return widths.map { w in
            defer { at += w }
            return Array(values[at..<min(values.count, at + w)])
        }
    }

    /// The changelog form, with the event time it was served at (little-endian: time, model
    /// version, served model, dense count, then the values, then the hashed pairs).
    public func encoded(time: Double) -> [UInt8] {
        var b = [UInt8]()
        b.reserveCapacity(8 + 4 + 2 + 4 + 4 + values.count * 8 + 4 + sparseIndices.count * 12)
        withUnsafeBytes(of: time.bitPattern.littleEndian) { b += $0 }
        withUnsafeBytes(of: modelVersion.littleEndian) { b += $0 }
        withUnsafeBytes(of: served.littleEndian) { b += $0 }
        withUnsafeBytes(of: denseCount.littleEndian) { b += $0 }
        withUnsafeBytes(of: UInt32(values.count).littleEndian) { b += $0 }
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { b += $0 } }
        withUnsafeBytes(of: UInt32(sparseIndices.count).littleEndian) { b += $0 }
        for i in sparseIndices { withUnsafeBytes(of: i.littleEndian) { b += $0 } }
        for v in sparseValues { withUnsafeBytes(of: v.bitPattern.littleEndian) { b += $0 } }
        withUnsafeBytes(of: UInt16(targets.count).littleEndian) { b += $0 }
        for t in targets {
            guard let t else { b.append(0); continue }
            b.append(1)
            withUnsafeBytes(of: UInt32(t.utf8.count).littleEndian) { b += $0 }
            b += Array(t.utf8)
        }
        return b
    }

    /// Reads `encoded`; nil for bytes that are not one (a record of another format).
    public static func decode(_ b: [UInt8]) -> (LabelSnapshot, Double)? {
        var at = 0
        func take<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard b.count - at >= MemoryLayout<T>.size else { return nil }
            defer { at += MemoryLayout<T>.size }
            return b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        guard let t = take(UInt64.self), let version = take(Int32.self), let served = take(Int16.self),
              let dense = take(Int32.self), let n = take(UInt32.self), Int(n) <= (b.count - at) / 8, dense >= 0, Int(dense) <= Int(n)
        else { return nil }
        var values = [Double]()
        values.reserveCapacity(Int(n))
        for _ in 0..<Int(n) { guard let v = take(UInt64.self) else { return nil }; values.append(Double(bitPattern: v)) }
        guard let m = take(UInt32.self), Int(m) <= (b.count - at) / 12 else { return nil }
        var idx = [Int32](), vals = [Double]()
        for _ in 0..<Int(m) { guard let i = take(Int32.self) else { return nil }; idx.append(i) }
        for _ in 0..<Int(m) { guard let v = take(UInt64.self) else { return nil }; vals.append(Double(bitPattern: v)) }
        guard let tc = take(UInt16.self) else { return nil }
        var targets: [String?] = []
        for _ in 0..<Int(tc) {
            guard let present = take(UInt8.self) else { return nil }
            if present == 0 { targets.append(nil); continue }
            guard let len = take(UInt32.self), Int(len) <= b.count - at else { return nil }
            targets.append(String(decoding: b[at..<at + Int(len)], as: UTF8.self))
            at += Int(len)
        }
        guard at == b.count else { return nil }
        var s = LabelSnapshot(dense: [], sparseIndices: [], sparseValues: [], outputs: [], served: Int(served), modelVersion: Int(version))
        s.values = values
        s.denseCount = dense
        s.extra = .make(sparseIndices: idx, sparseValues: vals, targets: targets)
        return (s, Double(bitPattern: t))
    }
}
