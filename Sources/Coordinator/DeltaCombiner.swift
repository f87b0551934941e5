import Models
import Wire

/// A host's relay (`tributary relay`, issue 28): the deltas of the workers on one host,
/// combined into one before they cross to the coordinator (tree aggregation), so the
/// coordinator's work per round grows with hosts, not workers. Pure: time is passed in.
///
/// The combined delta is the host's part of the merge: under `average`, Σ nᵢ·Δᵢ / Σ nᵢ with
/// Σ nᵢ samples, which the coordinator's sample-weighted average turns into the same
/// w + Σ nᵢ·Δᵢ / N as if every worker had sent its own (up to float rounding); under `sum`,
/// Σ Δᵢ. Scaler moments add up; reference samples travel along. The robust step runs here
/// over the host's workers (the coordinator's then judges hosts).
///
/// A flush goes out once every worker heard from within `memberWindowMs` has a delta pending
/// (one round of the host), or `maxWaitMs` after the first pending one arrived.
public struct DeltaCombiner: Sendable {
    public struct Settings: Sendable {
        public var rule: MergeRule = .average
        public var maxWaitMs: Int64 = 500
        public var memberWindowMs: Int64 = 10_000
        /// How the combined delta travels when dense; what rounding leaves out is added to the
        /// next combined delta (error feedback, as a worker does for its own).
        public var compression: DeltaCompression = .none
        /// The robust step over the host's workers, before combining (the coordinator's then
        /// sees hosts): each delta against the median of this round's and recent ones.
        public var robust = RobustPolicy()
        public init(rule: MergeRule = .average, maxWaitMs: Int64 = 500, memberWindowMs: Int64 = 10_000,
                    compression: DeltaCompression = .none, robust: RobustPolicy = RobustPolicy()) {
            self.robust = robust
            self.compression = compression
            self.rule = rule
            self.maxWaitMs = maxWaitMs
            self.memberWindowMs = memberWindowMs
        }
    }

    public let id: String
    public let settings: Settings
    private var pending: [String: ModelDelta] = [:]
    private var firstPendingAt: Int64?
    private var lastHeard: [String: Int64] = [:]
    private var seq = 0
    /// What compression left out of the last combined delta.
    private var residual: [Double] = []
    public private(set) var combined = 0
    public private(set) var rejected = 0
    /// Deltas the robust step clipped, capped or rejected; `notes`: what it did, for the log
    /// (the shell takes them).
    public private(set) var outliers = 0
    public var notes: [String] = []
    private var history = RobustHistory()

    public init(id: String, settings: Settings = Settings()) {
        self.id = id
        self.settings = settings
    }

    /// A worker's delta. A bad one (not finite, no samples, a relay's own) is refused with the
    /// reason; a second from the same worker before a flush replaces the first only if the
    /// first is flushed with it, which the worker's one-in-flight rule rules out.
    public mutating func add(_ d: ModelDelta, now: Int64) -> String? {
        guard d.members == nil else {
            rejected += 1
            return "a combined delta from \(d.workerId) (relays do not chain)"
        }
        do { _ = try ModelAveraging.validatedNorm(d.parameterDelta, width: d.width) } catch {
            rejected += 1
            return "\(error)"
        }
        if let first = pending.values.first, first.width != d.width {
            rejected += 1
            return "width \(d.width), the host's other deltas have \(first.width)"
        }
        lastHeard[d.workerId] = now
        if pending.isEmpty { firstPendingAt = now }
        pending[d.workerId] = d
        return nil
    }

    /// The combined delta when due (`force`: now, whatever is pending, as at shutdown).
    public mutating func flush(now: Int64, force: Bool = false) -> ModelDelta? {
        guard let first = firstPendingAt, !pending.isEmpty else { return nil }
        let recent = lastHeard.filter { now - $0.value <= settings.memberWindowMs }
        let everyone = recent.keys.allSatisfy { pending[$0] != nil }
        guard force || everyone || now - first >= settings.maxWaitMs else { return nil }
        lastHeard = recent
        let deltas = pending.values.sorted { $0.workerId < $1.workerId }
        pending.removeAll()
        firstPendingAt = nil
        return combine(deltas)
    }

    mutating func combine(_ deltas: [ModelDelta]) -> ModelDelta {
        let width = deltas[0].width
        let (kept, actions) = ModelAveraging.robust(deltas.map(\.parameterDelta), history: history.reference,
                                                    policy: settings.robust)
        for (w, a) in actions.sorted(by: { $0.key < $1.key }) {
            switch a {
            case .accepted: continue
            case .clipped(let n, let l): notes.append("clipped the model delta of \(w): norm \(n) > limit \(l)")
            case .samplesCapped(let c, let cap): notes.append("capped the samples of the model delta of \(w): \(c) claimed, \(cap) counted")
            case .rejected(let n, let l): notes.append("rejected the model delta of \(w): norm \(n) > limit \(l)")
            }
            outliers += 1
        }
        for d in kept { history.record(norm: ModelAveraging.norm(of: d), samples: d.samples) }
        var values = ModelAveraging.merge(global: residual.count == width ? residual : [Double](repeating: 0, count: width),
                                          deltas: kept, rule: settings.rule)
        residual = []
        seq += 1
        combined += deltas.count
        // Every member is named, merged or not: its worker may send again once the version
        // comes (as the coordinator does for a delta it rejects).
        var out = ModelDelta(workerId: id, seq: seq, baseVersion: deltas.map(\.baseVersion).min() ?? 0,
                             samples: kept.reduce(0) { $0 + $1.samples }, delta: values)
        // Compressed as a worker decides; never to a value that does not decode finite (the
        // members' deltas were checked finite, a float16 overflow would not be).
        if let (bytes, decoded) = settings.compression.encodeIfSmaller(values), decoded.allSatisfy(\.isFinite) {
            for i in values.indices { values[i] -= decoded[i] }
            residual = values
            out.delta = decoded
            out.compressed = bytes
            out.compression = settings.compression
        }
        out.members = Dictionary(uniqueKeysWithValues: deltas.map { ($0.workerId, $0.seq) })
        // Scaler moments of the kept deltas, scaled down with capped samples (as the coordinator does).
        let keptSamples = Dictionary(kept.map { ($0.worker, $0.samples) }, uniquingKeysWith: { a, _ in a })
        let scalers: [[Double]] = deltas.compactMap { d in
            guard !d.scaler.isEmpty, let n = keptSamples[d.workerId] else { return nil }
            return ModelAveraging.scalerPart(d.scaler, counted: n, claimed: d.samples)
        }
        if let n = scalers.first?.count, scalers.allSatisfy({ $0.count == n }) {
            out.scaler = (0..<n).map { i in scalers.reduce(0) { $0 + $1[i] } }
        }
        let refs = deltas.compactMap(\.reference).flatMap { $0 }
        if !refs.isEmpty { out.reference = refs }
        let dropped = deltas.reduce(0) { $0 + ($1.referenceDropped ?? 0) }
        if dropped > 0 { out.referenceDropped = dropped }
        return out
    }
}
