/// Event -> model inputs, for one feature spec: the whole per-event feature path.
public struct FeaturePipeline: Sendable {
    public let spec: FeatureSpec
    public let parser: EventParser
    public let denseWidth: Int
    public var width: Int { denseWidth + spec.hashedWidth }
    /// Per aggregate: index into `ParsedEvent.values` (nil: the aggregate counts events).
    let aggregateSlots: [Int?]
    /// Per aggregate whose stats take strings too (count, distinct, since_last): the text slot
    /// of its field, so "distinct merchants per card" works on merchant ids written as strings.
    let aggregateTextSlots: [Int?]
    /// Per numeric slot: the text slot that may stand in for it (a slot read only by such
    /// aggregates); a string there is a value, not a wrong type.
    let stringTolerant: [Int?]
    let categoricalSlots: [Int]
    public let textSlots: [Int]
    /// Per target encoding: text slot of its field (nil: the record key).
    let targetSlots: [Int?]
    let numericCount: Int
    let seeds: [UInt64]
    /// Per aggregate with `last` over a field that may hold strings: the seed of its hashed
    /// token (nil: not such an aggregate).
    let stringLastSeeds: [UInt64?]

    /// Per `extraText` path: its text slot in `ParsedEvent.texts` (fields read for a stage
    /// beside the features, such as the event id of `[labels]`: one parse for both).
    public let extraTextSlots: [Int]

    /// `labelClasses`: a multiclass model's class names (labels may be names or indices).
    public init(spec: FeatureSpec, labelClasses: [String] = [], extraText: [String] = []) {
        self.spec = spec
        var numeric = spec.numeric
        func numericSlot(_ p: String) -> Int {
            if let i = numeric.firstIndex(of: p) { return i }
            numeric.append(p)
            return numeric.count - 1
        }
        var text: [String] = []
        func textSlot(_ p: String) -> Int {
            if let i = text.firstIndex(of: p) { return i }
            text.append(p)
            return text.count - 1
        }
        for p in spec.numeric { _ = numericSlot(p) }
        let aggNumeric: [Int?] = spec.aggregates.map { $0.field.isEmpty ? nil : numericSlot($0.field) }
        let aggText: [Int?] = spec.aggregates.map { a in
            a.field.isEmpty || !a.stats.allSatisfy(FeatureSpec.Stat.stringStats.contains) ? nil : textSlot(a.field)
        }
        var tolerant = [Int?](repeating: nil, count: numeric.count)
        for (a, slot) in aggNumeric.enumerated() {
            guard let slot, let t = aggText[a], slot >= spec.numeric.count else { continue }
            // Tolerant only when every aggregate reading this slot takes strings.
            if aggNumeric.indices.allSatisfy({ aggNumeric[$0] != slot || aggText[$0] != nil }) { tolerant[slot] = t }
        }
        aggregateSlots = aggNumeric
        aggregateTextSlots = aggText
        stringTolerant = tolerant
        categoricalSlots = spec.categorical.map { textSlot($0.field) }
        textSlots = spec.text.map { textSlot($0.field) }
        targetSlots = spec.targetEncoding.map { $0.field == spec.key ? nil : textSlot($0.field) }
        extraTextSlots = extraText.map { textSlot($0) }
        numericCount = spec.numeric.count
        parser = EventParser(keyPath: spec.key, timestampPath: spec.usesKafkaTimestamp ? "" : spec.timestamp,
                             labelPath: spec.label, numericPaths: numeric, textPaths: text, labelClasses: labelClasses,
                             timestampUnit: spec.timestampUnit)
        denseWidth = spec.denseNames.count
        seeds = (spec.categorical.map(\.field) + spec.text.map(\.field)).map { fnv1a($0.utf8, 0xCBF2_9CE4_8422_2325) }
        stringLastSeeds = spec.aggregates.enumerated().map { a, agg in
            aggText[a] != nil && agg.stats.contains(.last) ? fnv1a("\(agg.name).last".utf8, 0xCBF2_9CE4_8422_2325) : nil
        }
    }

    /// `last` of a string field: the value's 64-bit hash, its low 51 bits kept as the payload
    /// of a quiet NaN in the running stats (numbers are never NaN there: they are refused as
    /// not finite), so the key's state and changelog need no new field and a numeric value of
    /// the same field later replaces it. Read as two inputs: the dense column is a stable code
    /// in [0, 1) (the value for a tree; equal values, equal codes), and, when the spec has a
    /// hashed space (a hashed categorical or a text input), a one-hot token there (the value
    /// for a linear model).
    @inline(__always) static func stringLast(_ hash: UInt64) -> Double {
        Double(bitPattern: 0x7FF8_0000_0000_0000 | (hash & stringLastMask))
    }
    static let stringLastMask: UInt64 = 0x0007_FFFF_FFFF_FFFF
    @inline(__always) static func stringLastCode(_ payload: UInt64) -> Double { Double(payload % 1_000_003) / 1_000_003 }

    /// Under `timestamp = "@kafka"`, the record's Kafka timestamp (ms; negative: none)
    /// becomes the event time; otherwise nothing changes.
    @inline(__always)
    public func applyKafkaTimestamp(_ ms: Int64, to e: inout ParsedEvent) {
        guard spec.usesKafkaTimestamp else { return }
        if ms >= 0 {
            e.timestamp = Double(ms) / 1000
            e.timestampStatus = .present
        } else {
            e.timestampStatus = .missing
        }
    }

    public func makeState() -> PartitionState { PartitionState(targetEncodings: spec.targetEncoding.count) }

    /// Fills `dense` (length `denseWidth`) and `sparse` from a parsed event, updating the
    /// partition's per-key state. Throws the value's error when a bad value is to be
    /// dead-lettered; otherwise bad values follow `on_bad_value` and are counted.
    public func features(of e: ParsedEvent, state: inout PartitionState, counters: inout FeatureCounters,
                         dense: inout [Double], sparse: inout SparseVector) throws(EventError) -> FeatureOutcome {
        let policy = spec.onBadValue
        // Hashed tokens of string `last` values (rare: no allocation unless one is read).
        var lastTokens: [UInt64] = []
        // 1. Validate first: a dead-lettered record must leave the state untouched.
        for i in 0..<e.status.count where e.status[i] != .present {
            if let t = stringTolerant[i], e.textStatus[t] == .present { continue }
            let err = parser.error(e.status[i], parser.numericPaths[i], expected: "a number")
            counters.badValues["\(err.reason):\(parser.numericPaths[i])", default: 0] += 1
            if policy == .deadLetter { throw err }
        }
        for (c, slot) in categoricalSlots.enumerated() where e.textStatus[slot] != .present {
            let err = parser.error(e.textStatus[slot], spec.categorical[c].field, expected: "a string or number")
            counters.badValues["\(err.reason):\(spec.categorical[c].field)", default: 0] += 1
            if policy == .deadLetter { throw err }
        }
        for (c, slot) in textSlots.enumerated() {
            let field = spec.text[c].field
            var err: EventError?
            if e.textStatus[slot] != .present {
                err = parser.error(e.textStatus[slot], field, expected: "a string")
            } else if e.texts[slot].utf8.count > spec.maxTextBytes {
                err = .oversized(field: field, limit: spec.maxTextBytes)
            }
            if let err {
                counters.badValues["\(err.reason):\(field)", default: 0] += 1
                if policy == .deadLetter { throw err }
            }
        }
        var t: Double
        if e.timestampStatus == .present, let ts = e.timestamp {
            t = ts
        } else {
            t = state.streamTime == -.infinity ? 0 : state.streamTime
            if spec.needsEventTime {
                let err = parser.error(e.timestampStatus, spec.timestamp, expected: parser.timestampExpectation)
                counters.badValues["\(err.reason):\(spec.timestamp)", default: 0] += 1
                // default and skip both mean "at the partition's stream time".
                if policy == .deadLetter { throw err }
            }
        }
        // 2. Late records (only windows have a notion of lateness).
        let watermark = state.streamTime - spec.allowedLatenessSeconds
        if spec.hasWindows && t < watermark {
            if spec.lateRecords == .drop { counters.lateDropped += 1 } else { counters.lateDeadLettered += 1 }
            return .late(deadLetter: spec.lateRecords == .deadLetter)
        }
        if t > state.streamTime { state.streamTime = t }
        let wm = state.streamTime - spec.allowedLatenessSeconds
        // 3. Dense part.
        var o = 0
        for i in 0..<numericCount {
            dense[o] = e.status[i] == .present ? e.values[i] : (policy == .default ? spec.defaultValue : policy == .missing ? .nan : 0)
            o += 1
        }
        for (c, cat) in spec.categorical.enumerated() where cat.encoding == .onehot {
            let slot = categoricalSlots[c]
            let hit = e.textStatus[slot] == .present ? cat.values.firstIndex(of: e.texts[slot]) : nil
            for j in 0...cat.values.count { dense[o + j] = 0 }
            if let hit { dense[o + hit] = 1 } else if e.textStatus[slot] == .present { dense[o + cat.values.count] = 1 }
            o += cat.values.count + 1
        }
        if !spec.aggregates.isEmpty {
            // Updated in place through the dictionary's modify accessor: no copy of the
            // key's window arrays per event.
            let ttl = spec.ttlSeconds
            let streamTime = state.streamTime
            // What the local functions read, bound here: capturing `self` made a copy of the
            // whole pipeline per record (a retain and release of every buffer in it).
            let aggregates = spec.aggregates
            let aggregateSlots = self.aggregateSlots
            let aggregateTextSlots = self.aggregateTextSlots
            let stringLastSeeds = self.stringLastSeeds
            let defaultValue = spec.defaultValue
            var inserted = false
            var expired = false
            var newlyDirty = false
            func newKeyState() -> KeyState { KeyState(lastSeen: t, windows: aggregates.map(WindowState.initial)) }
            func update(_ ks: inout KeyState, _ dense: inout [Double]) {
                if !inserted && ttl > 0 && ks.lastSeen < streamTime - ttl {
                    expired = true
                    let listed = ks.dirty
                    ks = newKeyState()
                    ks.dirty = listed
                }
                if !ks.dirty {
                    ks.dirty = true
                    newlyDirty = true
                }
                ks.lastSeen = Swift.max(ks.lastSeen, t)
                // By index: `enumerated()` copied each aggregate's spec (its strings and
                // stats array: a retain and release apiece) per event.
                for a in aggregates.indices {
                    let stats: RunningStats
                    // A string where strings are taken: its hash is the value (distinct counts
                    // strings; count and since_last ignore the value).
                    let text = aggregateTextSlots[a].flatMap { e.textStatus[$0] == .present ? $0 : nil }
                    if let slot = aggregateSlots[a], e.status[slot] != .present, text == nil, policy != .default {
                        // skip: read the window without this value.
                        stats = ks.windows[a].read(at: t, spec: aggregates[a])
                    } else {
                        var x = aggregateSlots[a].map { e.status[$0] == .present ? e.values[$0] : defaultValue } ?? 0
                        if let slot = aggregateSlots[a], e.status[slot] != .present, let text {
                            var v = e.texts[text]
                            let h = v.withUTF8 { fnv1a($0, 0xCBF2_9CE4_8422_2325) }
                            x = stringLastSeeds[a] != nil ? FeaturePipeline.stringLast(h) : Double(h >> 11)
                        }
                        stats = ks.windows[a].add(x, at: t, spec: aggregates[a], watermark: wm)
                    }
                    for s in aggregates[a].stats {
                        let v = stats.value(s)
                        if s == .last, v.isNaN, let seed = stringLastSeeds[a] {
                            let payload = v.bitPattern & FeaturePipeline.stringLastMask
                            dense[o] = FeaturePipeline.stringLastCode(payload)
                            lastTokens.append(payload ^ seed)
                        } else {
                            dense[o] = v
                        }
                        o += 1
                    }
                }
            }
            // One hash lookup: the default (evaluated only for a new key) notes the insertion.
            update(&state.keys[e.key, default: { inserted = true; return newKeyState() }()], &dense)
            if expired { counters.expiredKeys += 1 }
            if newlyDirty { state.dirtyKeys.append(e.key) }
        }
        let prior = state.labelCount > 0 ? state.labelSum / state.labelCount : 0.5
        for (i, te) in spec.targetEncoding.enumerated() {
            var st = TargetStat()
            if let v = targetValue(i, e) { st = targetStat(i, v, state) }
            dense[o] = (st.sum + prior * te.smoothing) / (st.count + te.smoothing)
            o += 1
        }
        // 4. Hashed part.
        sparse.removeAll()
        if spec.hashedWidth > 0 {
            let mask = UInt64(spec.hashedWidth - 1)
            // Bound here: the token closure reading `self.denseWidth` copied the pipeline per record.
            let denseWidth = self.denseWidth
            for t in lastTokens { sparse.append(denseWidth + Int(mix(t) & mask), 1) }
            for (c, cat) in spec.categorical.enumerated() where cat.encoding == .hashed {
                let slot = categoricalSlots[c]
                guard e.textStatus[slot] == .present else { continue }
                var s = e.texts[slot]
                let h = s.withUTF8 { fnv1a($0, seeds[c]) }
                sparse.append(denseWidth + Int(mix(h) & mask), 1)
            }
            for (c, tf) in spec.text.enumerated() {
                let slot = textSlots[c]
                guard e.textStatus[slot] == .present, e.texts[slot].utf8.count <= spec.maxTextBytes else { continue }
                var s = e.texts[slot]
                let seed = seeds[spec.categorical.count + c]
                s.withUTF8 { tokenize($0, seed: seed, bigrams: tf.ngrams >= 2) { h in sparse.append(denseWidth + Int(mix(h) & mask), 1) } }
            }
        }
        return .features
    }

    /// After the prediction: the label joins the target encodings (never before, so it
    /// cannot leak into its own features).
    public func learnTargets(of e: ParsedEvent, state: inout PartitionState) {
        guard let y = e.label, !spec.targetEncoding.isEmpty else { return }
        learnTargets(values: spec.targetEncoding.indices.map { targetValue($0, e) }, label: y,
                     time: e.timestamp ?? state.streamTime, state: &state)
    }

    /// Each target encoding's value in this event (nil: absent), kept with a prediction whose
    /// label comes later (`[labels]`); empty without target encodings.
    public func targetValues(of e: ParsedEvent) -> [String?] {
        spec.targetEncoding.isEmpty ? [] : spec.targetEncoding.indices.map { targetValue($0, e) }
    }

    /// The label of an event served at `time`, whose target-encoding values were `values`,
    /// joins the encodings now (a label that came after its event, `[labels]`).
    public func learnTargets(values: [String?], label y: Double, time t: Double, state: inout PartitionState) {
        guard !spec.targetEncoding.isEmpty, values.count == spec.targetEncoding.count else { return }
        state.labelCount += 1
        state.labelSum += y
        for i in spec.targetEncoding.indices {
            guard let v = values[i] else { continue }
            var st = targetStat(i, v, state)
            st.count += 1
            st.sum += y
            st.lastSeen = Swift.max(st.lastSeen, t)
            state.targets[i][v] = st
            state.dirtyTargets[i].insert(v)
        }
    }

    /// The value target encoding `i` is keyed by in this event (nil: absent or invalid).
    func targetValue(_ i: Int, _ e: ParsedEvent) -> String? {
        guard let slot = targetSlots[i] else { return e.key }
        return e.textStatus[slot] == .present ? e.texts[slot] : nil
    }

    /// A value's label stats, empty once idle beyond the TTL (lazily expired, as keys are).
    func targetStat(_ i: Int, _ v: String, _ state: PartitionState) -> TargetStat {
        let st = state.targets[i][v] ?? TargetStat()
        return spec.ttlSeconds > 0 && st.lastSeen < state.streamTime - spec.ttlSeconds ? TargetStat() : st
    }
}

/// One FNV-1a step. FNV is fixed across processes, unlike Swift's seeded `Hasher`, so every
/// worker hashes a token to the same model input.
@inline(__always) func fnvStep(_ h: UInt64, _ c: UInt8) -> UInt64 { (h ^ UInt64(c)) &* 0x100_0000_01B3 }

/// FNV-1a over bytes from `seed`.
@inline(__always) func fnv1a<S: Sequence<UInt8>>(_ bytes: S, _ seed: UInt64) -> UInt64 {
    var h = seed
    for c in bytes { h = fnvStep(h, c) }
    return h
}

@inline(__always) func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
/// Token bytes: ASCII letters and digits, and every non-ASCII byte (so UTF-8 words stay whole).
@inline(__always) func isTokenByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c >= 0x80
}

/// Calls `emit` with the hash of every lower-cased unigram and (optionally) every bigram
/// "previous current" of `text`, without allocating.
func tokenize(_ text: UnsafeBufferPointer<UInt8>, seed: UInt64, bigrams: Bool, _ emit: (UInt64) -> Void) {
    var i = 0
    let n = text.count
    var prev: Range<Int>? = nil
    while i < n {
        while i < n && !isTokenByte(text[i]) { i += 1 }
        let start = i
        while i < n && isTokenByte(text[i]) { i += 1 }
        guard i > start else { break }
        let h = fnv1a(text[start..<i].lazy.map(lower), seed)
        emit(h)
        if bigrams, let p = prev {
            // "previous current": the two tokens joined by one space.
            let b = fnv1a(text[start..<i].lazy.map(lower), fnvStep(fnv1a(text[p].lazy.map(lower), seed ^ 0x9E37_79B9), 0x20))
            emit(b)
        }
        prev = start..<i
    }
}
