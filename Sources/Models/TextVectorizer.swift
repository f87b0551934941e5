#if canImport(Glibc)
import Glibc
#endif

/// scikit-learn's word analyzer and vectorizers, reproduced so a text model trained offline
/// sees the same vectors here: `HashingVectorizer` (`kind = "hashing"`) and `CountVectorizer` /
/// `TfidfVectorizer` (`kind = "vocabulary"`, with their vocabulary and idf). What is covered:
/// `lowercase`, the default token pattern `(?u)\b\w\w+\b` (runs of two or more word
/// characters: letters, digits of any script, underscore), `stop_words`, `ngram_range`,
/// `alternate_sign`, `binary`, `sublinear_tf`, idf and `norm` (l1, l2 or none).
/// `tools/export_sklearn.py` refuses every other setting by name.
public struct TextVectorizer: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case hashing, vocabulary }
    /// The event field the text comes from: one of the cluster's `[[features.text]]` fields.
    public var field: String
    public var kind: Kind
    public var lowercase: Bool
    public var ngramRange: [Int]
    public var stopWords: [String]?
    /// Hashing: the number of columns (`n_features`).
    public var nFeatures: Int?
    public var alternateSign: Bool?
    public var binary: Bool
    /// "l2", "l1" or nil.
    public var norm: String?
    /// Vocabulary: the terms in column order (`vocabulary_` inverted), and `idf_` (tf-idf).
    public var vocabulary: [String]?
    public var idf: [Double]?
    public var sublinearTf: Bool?

    enum CodingKeys: String, CodingKey {
        case field, kind, lowercase, binary, norm, vocabulary, idf
        case ngramRange = "ngram_range", stopWords = "stop_words", nFeatures = "n_features"
        case alternateSign = "alternate_sign", sublinearTf = "sublinear_tf"
    }

    public init(field: String, kind: Kind, lowercase: Bool = true, ngramRange: [Int] = [1, 1], stopWords: [String]? = nil,
                nFeatures: Int? = nil, alternateSign: Bool? = nil, binary: Bool = false, norm: String? = "l2",
                vocabulary: [String]? = nil, idf: [Double]? = nil, sublinearTf: Bool? = nil) {
        self.field = field
        self.kind = kind
        self.lowercase = lowercase
        self.ngramRange = ngramRange
        self.stopWords = stopWords
        self.nFeatures = nFeatures
        self.alternateSign = alternateSign
        self.binary = binary
        self.norm = norm
        self.vocabulary = vocabulary
        self.idf = idf
        self.sublinearTf = sublinearTf
    }

    /// Columns of the text block.
    public var width: Int { kind == .hashing ? nFeatures ?? 0 : vocabulary?.count ?? 0 }

    /// What in the file does not describe a vectorizer this can reproduce, or nil.
    public func problem() -> String? {
        guard ngramRange.count == 2, ngramRange[0] >= 1, ngramRange[1] >= ngramRange[0], ngramRange[1] <= 8 else {
            return "'text.ngram_range' is \(ngramRange), expected [min, max] with 1 <= min <= max <= 8"
        }
        if let n = norm, n != "l1" && n != "l2" { return "'text.norm' is \"\(n)\", expected \"l1\", \"l2\" or null" }
        switch kind {
        case .hashing:
            guard let n = nFeatures, n >= 1, n <= 1 << 26 else {
                return "'text.n_features' is \(nFeatures.map(String.init) ?? "missing"), expected 1 ... 2^26"
            }
        case .vocabulary:
            guard let v = vocabulary, !v.isEmpty else { return "'text.vocabulary' is missing or empty" }
            if Set(v).count != v.count { return "'text.vocabulary' repeats a term" }
            if let idf, idf.count != v.count { return "'text.idf' has \(idf.count) values, the vocabulary \(v.count) terms" }
            if let idf, !idf.allSatisfy(\.isFinite) { return "'text.idf' has a non-finite value" }
        }
        return nil
    }
}

/// A text's vector: sorted column indices within the text block and their values. Reused
/// from record to record (its buffers keep their capacity).
public struct TextRow: Sendable, Equatable {
    public internal(set) var indices: [Int] = []
    public internal(set) var values: [Double] = []
    /// The lower-cased bytes and the tokens' byte ranges in them.
    var bytes: [UInt8] = []
    var tokens: [Range<Int>] = []
    var gram: [UInt8] = []
    var pairs: [(Int, Double)] = []
    public init() {}
    public static func == (a: TextRow, b: TextRow) -> Bool { a.indices == b.indices && a.values == b.values }
}

/// The vectorizer with its lookup tables built once (the vocabulary as a dictionary).
public struct CompiledVectorizer: Sendable {
    public let spec: TextVectorizer
    let columns: [String: Int]
    let stop: Set<String>

    public init(_ spec: TextVectorizer) {
        self.spec = spec
        var columns: [String: Int] = [:]
        for (i, t) in (spec.vocabulary ?? []).enumerated() { columns[t] = i }
        self.columns = columns
        stop = Set(spec.stopWords ?? [])
    }

    /// Python's `\w` under `(?u)`: `str.isalnum()` or "_" (letters Lu Ll Lt Lm Lo, and any
    /// character with a numeric type).
    @inline(__always) static func isWord(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 {
            let c = s.value
            return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
        }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return s.properties.numericType != nil
        }
    }

    /// scikit-learn's `transform` of one document into `row`.
    public func transform(_ text: String, into row: inout TextRow) {
        row.indices.removeAll(keepingCapacity: true)
        row.values.removeAll(keepingCapacity: true)
        row.bytes.removeAll(keepingCapacity: true)
        row.tokens.removeAll(keepingCapacity: true)
        row.pairs.removeAll(keepingCapacity: true)
        var ascii = true
        for b in text.utf8 where b >= 0x80 { ascii = false; break }
        // Lower-case (Python's str.lower: full Unicode mapping) and split in one pass.
        var start = -1, length = 0
        func close(_ end: Int) {
            if start >= 0 && length >= 2 { row.tokens.append(start..<end) }
            start = -1
            length = 0
        }
        if ascii {
            for b in text.utf8 {
                let c = spec.lowercase && b >= 0x41 && b <= 0x5A ? b | 0x20 : b
                if Self.isWord(Unicode.Scalar(c)) {
                    if start < 0 { start = row.bytes.count }
                    length += 1
                } else {
                    close(row.bytes.count)
                }
                row.bytes.append(c)
            }
        } else {
            let s = spec.lowercase ? text.lowercased() : text
            for u in s.unicodeScalars {
                if Self.isWord(u) {
                    if start < 0 { start = row.bytes.count }
                    length += 1
                } else {
                    close(row.bytes.count)
                }
                row.bytes.append(contentsOf: String(u).utf8)
            }
        }
        close(row.bytes.count)
        if !stop.isEmpty {
            let bytes = row.bytes
            row.tokens.removeAll { r in stop.contains(String(decoding: bytes[r], as: UTF8.self)) }
        }
        // n-grams in scikit-learn's order (unigrams, then bigrams, ...), each its own column.
        let minN = spec.ngramRange[0], maxN = spec.ngramRange[1]
        let t = row.tokens.count
        if t > 0 {
            for n in minN...min(maxN, t) {
                for i in 0...(t - n) {
                    row.gram.removeAll(keepingCapacity: true)
                    for j in i..<(i + n) {
                        if j > i { row.gram.append(0x20) }
                        row.gram.append(contentsOf: row.bytes[row.tokens[j]])
                    }
                    add(&row)
                }
            }
        }
        // Duplicates summed, columns sorted (scipy's CSR after sum_duplicates / sort_indices).
        row.pairs.sort { $0.0 < $1.0 }
        for (c, v) in row.pairs {
            if let last = row.indices.last, last == c { row.values[row.values.count - 1] += v } else {
                row.indices.append(c)
                row.values.append(v)
            }
        }
        if spec.binary { for k in row.values.indices { row.values[k] = 1 } }
        if spec.kind == .vocabulary {
            if spec.sublinearTf == true { for k in row.values.indices { row.values[k] = log(row.values[k]) + 1 } }
            if let idf = spec.idf { for k in row.values.indices { row.values[k] *= idf[row.indices[k]] } }
        }
        switch spec.norm {
        case "l2":
            var s = 0.0
            for v in row.values { s += v * v }
            s = s.squareRoot()
            if s != 0 { for k in row.values.indices { row.values[k] /= s } }
        case "l1":
            var s = 0.0
            for v in row.values { s += abs(v) }
            if s != 0 { for k in row.values.indices { row.values[k] /= s } }
        default: break
        }
    }

    @inline(__always) private func add(_ row: inout TextRow) {
        switch spec.kind {
        case .hashing:
            let n = spec.nFeatures ?? 1
            let h = row.gram.withUnsafeBufferPointer { MurmurHash3.x86_32($0) }
            let index = h == Int32.min ? (Int(Int32.max) - (n - 1)) % n : Int(h.magnitude) % n
            row.pairs.append((index, spec.alternateSign != false && h < 0 ? -1 : 1))
        case .vocabulary:
            if let c = columns[String(decoding: row.gram, as: UTF8.self)] { row.pairs.append((c, 1)) }
        }
    }
}
