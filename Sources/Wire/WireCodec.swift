import Foundation
import Models

public enum WireCodec {
    public static let tag: [UInt8] = Array("TRB1".utf8)
    /// Control messages are small; anything bigger is refused before decoding.
    public static let maxBodyBytes = 16 << 20
    /// Parameters (model updates, deltas, the welcome, imports) follow the body as binary
    /// frames of at most this size, so a model of 2^24 weights (128 MiB) crosses a socket
    /// whose per-frame limit (ZMQ_MAXMSGSIZE) stays at 16 MiB.
    public static let maxFrameBytes = 4 << 20
    /// 2^28 float64 weights, or as many sparse pairs: more is refused before it is joined.
    public static let maxParameterBytes = 3 << 30

    /// `epoch`: the sending coordinator's leader epoch (issue 23, with an election): a worker
    /// obeys only the highest it has seen, so a deposed coordinator's directives are ignored.
    private struct Envelope<Body: Encodable>: Encodable {
        var type: String
        var body: Body
        var epoch: Int64?
    }
    private struct Head: Decodable { var type: String; var epoch: Int64? }
    private struct BodyOf<Body: Decodable>: Decodable { var body: Body }

    public static func encode(_ m: WireMessage, epoch: Int64? = nil) -> [[UInt8]] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        func e<B: Encodable>(_ b: B) -> [UInt8] {
            // Keys are the Swift property names (camelCase), no key strategy: a strategy would
        // also rewrite dictionary keys such as reason codes and librdkafka settings.
        // Encoding our own Codable structs cannot fail (no non-finite doubles: metrics
            // are finite by construction); an empty body would be rejected by the peer.
            (try? Array(enc.encode(Envelope(type: m.typeName, body: b, epoch: epoch)))) ?? []
        }
        let body: [UInt8]
        switch m {
        case .hello(let b): body = e(b)
        case .heartbeat(let b): body = e(b)
        case .revoked(let b): body = e(b)
        case .leaving(let b): body = e(b)
        case .modelDelta(let b):
            // Sparse models send only touched coordinates: (uint32 index, float64 value) pairs
            // when that is smaller than the dense vector.
            func sparseHead(compression: DeltaCompression? = nil) -> [UInt8] {
                let head = SparseDeltaHead(workerId: b.workerId, seq: b.seq, baseVersion: b.baseVersion, samples: b.samples,
                                           scaler: b.scaler, width: b.width, sparse: compression == nil ? true : nil,
                                           compression: compression?.rawValue, reference: b.reference,
                                           referenceDropped: b.referenceDropped, members: b.members)
                return (try? Array(enc.encode(Envelope(type: m.typeName, body: head, epoch: epoch)))) ?? []
            }
            if let indices = b.indices { return [tag, sparseHead()] + frames(packPairs(indices, b.delta)) }
            if let p = b.packed {
                return [tag, p.compression == .none ? e(b) : sparseHead(compression: p.compression)] + (p.chunks.isEmpty ? [[]] : p.chunks)
            }
            if let c = b.compression, let bytes = b.compressed { return [tag, sparseHead(compression: c)] + frames(bytes) }
            var nonZero = 0
            for v in b.delta where v != 0 { nonZero += 1 }
            if nonZero * 12 < b.delta.count * 8 && b.delta.count <= Int(UInt32.max) {
                return [tag, sparseHead()] + frames(packSparse(b.delta, nonZero))
            }
            return [tag, e(b)] + frames(packDoubles(b.delta))
        case .modelUpdate(let b):
            switch b.diff {
            case .changed(let indices, let values)?: return [tag, e(b)] + frames(packPairs(indices, values))
            case .added(_, let bytes)?: return [tag, e(b)] + frames(bytes)
            case nil: return [tag, e(b)] + frames(packDoubles(b.parameters))
            }
        case .modelCommand(let b): return [tag, e(b)] + frames(packDoubles(b.parameters))
        case .welcome(var b):
            let parameters = b.modelParameters
            b.modelParameters = []
            return [tag, e(b)] + frames(packDoubles(parameters))
        case .assign(let b): body = e(b)
        case .revoke(let b): body = e(b)
        case .ping(let b): body = e(b)
        case .reregister(let b): body = e(b)
        case .left(let b): body = e(b)
        case .statusRequest(let b): body = e(b)
        case .status(let b): body = e(b)
        case .error(let b): body = e(b)
        }
        return [tag, body]
    }

    /// Decodes [tag, body]; anything else is a typed error, never a crash.
    /// The leader epoch a message carries (nil: none, a coordinator without an election).
    public static func epoch(of frames: ArraySlice<[UInt8]>) -> Int64? {
        guard frames.count >= 2, frames[frames.startIndex] == tag else { return nil }
        return try? JSONDecoder().decode(Head.self, from: Data(frames[frames.startIndex + 1])).epoch
    }

    public static func decode(_ frames: ArraySlice<[UInt8]>) throws(WireError) -> WireMessage {
        guard frames.count >= 2 else { throw .malformed("expected at least 2 frames, got \(frames.count)") }
        let t = frames[frames.startIndex]
        guard t == tag else {
            // Quote what came, printable or as hex: hostile bytes must not reach logs raw.
            let head = t.prefix(16)
            let text = head.allSatisfy { $0 >= 0x20 && $0 < 0x7F } ? String(decoding: head, as: UTF8.self)
                : "0x" + head.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
            throw .wrongVersion(text)
        }
        let data = Data(frames[frames.startIndex + 1])
        guard data.count <= maxBodyBytes else { throw .malformed("body of \(data.count) bytes") }
        let dec = JSONDecoder()
        let type: String
        do { type = try dec.decode(Head.self, from: data).type } catch { throw .malformed("no type: \(error)") }
        func d<B: Decodable>(_: B.Type) throws(WireError) -> B {
            do { return try dec.decode(BodyOf<B>.self, from: data).body } catch {
                throw .malformed("\(type): \(error)")
            }
        }
        switch type {
        case "hello": return .hello(try d(Hello.self))
        case "heartbeat": return .heartbeat(try d(WorkerReport.self))
        case "revoked": return .revoked(try d(Revoked.self))
        case "leaving": return .leaving(try d(Leaving.self))
        case "model_delta":
            var m = try d(ModelDelta.self)
            let head = try d(SparseDeltaHead.self)
            if head.sparse != true {
                // Dense, float64 or compressed: kept in its frames (`PackedValues`).
                let c: DeltaCompression
                if let name = head.compression {
                    guard let known = DeltaCompression(rawValue: name) else { throw .malformed("unknown delta compression '\(name.prefix(32))'") }
                    c = known
                } else {
                    c = .none
                }
                let parts = try payloadFrames(frames)
                let total = parts.reduce(0) { $0 + $1.count }
                let width = c == .none ? total / 8 : head.width ?? -1
                guard width >= 0 && width <= 1 << 28 else { throw .malformed("delta width \(width) out of range") }
                guard let p = PackedValues(chunks: parts, chunkBytes: maxFrameBytes, compression: c, count: width) else {
                    throw .malformed("\(c.rawValue) delta of \(total) bytes for \(width) values (expected \(c.byteCount(width)))")
                }
                m.packed = p
                m.width = width
                m.compression = c == .none ? nil : c
            } else if head.sparse == true {
                let width = head.width ?? -1
                (m.indices, m.delta) = try unpackPairs(frames, width: width)
                m.width = width
            }
            return .modelDelta(m)
        case "model_update":
            var m = try d(ModelUpdate.self)
            guard let kind = m.diffKind else {
                m.parameters = try unpackDoubles(frames)
                return .modelUpdate(m)
            }
            guard m.diffFrom != nil, let width = m.width, width >= 0 && width <= 1 << 28 else {
                throw .malformed("model update diff '\(kind.prefix(16))' without diffFrom and a width (at most 2^28)")
            }
            if kind == "changed" {
                let (indices, values) = try unpackPairs(frames, width: width)
                m.diff = .changed(indices: indices, values: values)
            } else if let c = DeltaCompression(rawValue: kind), c != .none {
                let bytes = try payload(frames)
                guard bytes.count == c.byteCount(width) else {
                    throw .malformed("\(kind) model update diff of \(bytes.count) bytes for width \(width) (\(c.byteCount(width)) expected)")
                }
                m.diff = .added(c, bytes: bytes)
            } else {
                throw .malformed("unknown model update diff kind '\(kind.prefix(16))'")
            }
            m.diffKind = nil
            return .modelUpdate(m)
        case "model_command":
            var m = try d(ModelCommand.self)
            m.parameters = try unpackDoubles(frames)
            return .modelCommand(m)
        case "welcome":
            var m = try d(Welcome.self)
            if frames.count > 2 { m.modelParameters = try unpackDoubles(frames) }
            return .welcome(m)
        case "assign": return .assign(try d(Assignment.self))
        case "revoke": return .revoke(try d(Assignment.self))
        case "ping": return .ping(try d(Ping.self))
        case "reregister": return .reregister(try d(Reregister.self))
        case "left": return .left(try d(Leaving.self))
        case "status_request": return .statusRequest(try d(StatusRequest.self))
        case "status": return .status(try d(ClusterStatus.self))
        case "error": return .error(try d(WireFailure.self))
        default: throw .unknownType(String(type.prefix(64)))
        }
    }

    /// Parameters travel as raw little-endian float64 (a 2^20-weight model is 8 MiB, not
    /// ~20 MiB of JSON text, and needs no parsing).
    static func packDoubles(_ v: [Double]) -> [UInt8] { LittleEndianDoubles.bytes(v) }

    static func packSparse(_ v: [Double], _ nonZero: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: nonZero * 12)
        out.withUnsafeMutableBytes { buf in
            var at = 0
            for (i, d) in v.enumerated() where d != 0 {
                buf.storeBytes(of: UInt32(i).littleEndian, toByteOffset: at, as: UInt32.self)
                buf.storeBytes(of: d.bitPattern.littleEndian, toByteOffset: at + 4, as: UInt64.self)
                at += 12
            }
        }
        return out
    }

    /// A parameter payload as frames of at most `maxFrameBytes` (always at least one, so a
    /// message with parameters is told from one without by its frame count).
    static func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        guard bytes.count > maxFrameBytes else { return [bytes] }
        return stride(from: 0, to: bytes.count, by: maxFrameBytes).map { Array(bytes[$0..<min(bytes.count, $0 + maxFrameBytes)]) }
    }

    /// Frames 2..., checked as `payload` checks them, not joined.
    static func payloadFrames(_ frames: ArraySlice<[UInt8]>) throws(WireError) -> [[UInt8]] {
        guard frames.count >= 3 else { throw .malformed("model parameters frame missing") }
        let parts = Array(frames[(frames.startIndex + 2)...])
        var total = 0
        for f in parts {
            guard parts.count == 1 || f.count <= maxFrameBytes else {
                throw .malformed("parameter frame of \(f.count) bytes (at most \(maxFrameBytes) when split)")
            }
            total += f.count
        }
        guard total <= maxParameterBytes else { throw .malformed("parameters of \(total) bytes") }
        return parts
    }

    /// Frames 2... joined: the parameter payload.
    static func payload(_ frames: ArraySlice<[UInt8]>) throws(WireError) -> [UInt8] {
        let parts = try payloadFrames(frames)
        if parts.count == 1 { return parts[0] }
        var out = [UInt8]()
        out.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for f in parts { out += f }
        return out
    }

    static func packPairs(_ indices: [UInt32], _ values: [Double]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: indices.count * 12)
        out.withUnsafeMutableBytes { buf in
            for k in indices.indices {
                buf.storeBytes(of: indices[k].littleEndian, toByteOffset: k * 12, as: UInt32.self)
                buf.storeBytes(of: values[k].bitPattern.littleEndian, toByteOffset: k * 12 + 4, as: UInt64.self)
            }
        }
        return out
    }

    /// Indices must be below `width` and strictly increasing (each coordinate once).
    static func unpackPairs(_ frames: ArraySlice<[UInt8]>, width: Int) throws(WireError) -> ([UInt32], [Double]) {
        guard width >= 0 && width <= 1 << 28 else { throw .malformed("sparse delta width \(width) out of range") }
        let f = try payload(frames)
        guard f.count % 12 == 0 else { throw .malformed("sparse delta frame of \(f.count) bytes is not whole (index, value) pairs") }
        let n = f.count / 12
        var indices = [UInt32](repeating: 0, count: n)
        var values = [Double](repeating: 0, count: n)
        var last = -1
        let ok: Bool = f.withUnsafeBytes { buf in
            for k in 0..<n {
                let i = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: k * 12, as: UInt32.self))
                guard Int(i) > last, Int(i) < width else { return false }
                indices[k] = i
                values[k] = Double(bitPattern: UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: k * 12 + 4, as: UInt64.self)))
                last = Int(i)
            }
            return true
        }
        guard ok else { throw .malformed("sparse delta indices must increase and stay below the width \(width)") }
        return (indices, values)
    }

    /// Straight from the frames into the doubles (joining them first cost a second 8 MiB
    /// allocation and copy per 2^20-weight delta: `tributary bench-scale`).
    static func unpackDoubles(_ frames: ArraySlice<[UInt8]>) throws(WireError) -> [Double] {
        let parts = try payloadFrames(frames)
        let total = parts.reduce(0) { $0 + $1.count }
        guard total % 8 == 0 else { throw .malformed("parameter frame of \(total) bytes is not a whole number of float64") }
        if parts.count == 1 { return LittleEndianDoubles.doubles(parts[0], count: total / 8) }
        return [Double](unsafeUninitializedCapacity: total / 8) { out, initialized in
            let raw = UnsafeMutableRawBufferPointer(out)
            var at = 0
            for f in parts {
                f.withUnsafeBytes { raw.baseAddress!.advanced(by: at).copyMemory(from: $0.baseAddress!, byteCount: f.count) }
                at += f.count
            }
            #if !_endian(little)
            for i in 0..<(total / 8) { out[i] = Double(bitPattern: UInt64(littleEndian: out[i].bitPattern)) }
            #endif
            initialized = total / 8
        }
    }
}
