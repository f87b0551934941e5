import Models
import Wire

/// The global model as a value type: deltas in, new versions out. Pure (no I/O, time is
/// passed in), like `Membership`.
///
/// Merge rule (docs/ARCHITECTURE.md): every sync interval, the deltas received since the last
/// version are validated and merged by sample-weighted averaging (`ModelAveraging.merge`):
///   w(v+1) = w(v) + Σ nᵢ·Δᵢ / Σ nᵢ
/// A worker keeps at most one delta in flight; a newer one from the same worker replaces
/// an unmerged older one only if it carries the older one's progress (the worker never
/// sends a second before the first is merged, so this does not happen in practice).
/// Stale deltas (taken against an older version) are merged all the same: they are real
/// learning, and averaging bounds their effect. Invalid deltas (wrong size, NaN/Inf, no
/// samples) are rejected and counted against their worker.
public struct ModelAggregator: Sendable {
    public private(set) var version: Int
    public private(set) var parameters: [Double]
    /// The cluster-wide input scaler as raw moments: the sum of every merged delta's scaler
    /// part (moments add up; no averaging).
    public private(set) var scaler: [Double] = []
    public let syncIntervalMs: Int64
    /// Merge whatever is pending at every tick (`sync_every_samples` > 0).
    public let eager: Bool
    private var pending: [String: ModelDelta] = [:]
    /// Each pending delta's norm, taken as it arrives (the robust step's input): the work of
    /// a round is spread over the interval instead of stalling the loop at its end.
    private var pendingNorms: [String: Double] = [:]
    /// A relayed delta's pending key → the relay that sent it.
    private var owners: [String: String] = [:]
    /// The merge's parallelism (coordinate ranges merged at once; the result is the same to
    /// the bit for any value).
    public var shards: Int
    private var lastMerge: Int64
    public private(set) var rejected: [String: Int] = [:]
    /// Deltas scaled down or with capped samples (robust averaging), per worker.
    public private(set) var clipped: [String: Int] = [:]
    /// Scaler parts (input moments) left out of the merge, per worker.
    public private(set) var rejectedScalers: [String: Int] = [:]
    public let robust: RobustPolicy
    public let rule: MergeRule
    /// The server step on top of the merge (FedAvgM: Hsu et al. 2019, "Measuring the Effects
    /// of Non-Identical Data Distribution"): v ← β·v + (merged − w), w ← w + η·v. With η = 1
    /// and β = 0 (the defaults) the merged parameters are the new version.
    public let server: ServerStep
    private var velocity: [Double] = []
    /// Norms and sample counts of recently merged deltas: the robust step's reference.
    private var history = RobustHistory()

    public enum Directive: Sendable, Equatable {
        /// Send this version to every live worker and checkpoint it.
        case publish(ModelUpdate)
        case log(String)
    }

    public init(parameterCount: Int, syncIntervalMs: Int, eager: Bool = false, now: Int64, version: Int = 0, parameters: [Double]? = nil,
                robust: RobustPolicy = RobustPolicy(), rule: MergeRule = .average, server: ServerStep = ServerStep(),
                shards: Int = 1) {
        self.server = server
        self.shards = shards
        self.robust = robust
        self.rule = rule
        self.version = version
        self.parameters = parameters ?? .init(repeating: 0, count: parameterCount)
        self.syncIntervalMs = Int64(syncIntervalMs)
        self.eager = eager
        lastMerge = now
    }

    public var width: Int { parameters.count }

    public mutating func receive(_ d: ModelDelta) -> [Directive] {
        let norm: Double
        do {
            norm = try ModelAveraging.validatedNorm(d.parameterDelta, width: width)
        } catch {
            rejected[d.workerId, default: 0] += 1
            return [.log("rejected model delta \(d.seq) from \(d.workerId): \(error)")]
        }
        // A relay sends its host's deltas combined, one per flush, without waiting for a
        // version between them: each is its own pending delta (`relay#seq`), counted against
        // the relay.
        var d = d
        if d.members != nil {
            owners["\(d.workerId)#\(d.seq)"] = d.workerId
            d.workerId = "\(d.workerId)#\(d.seq)"
        }
        pending[d.workerId] = d
        pendingNorms[d.workerId] = norm
        return []
    }

    /// Merges what arrived once the sync interval has passed or, when `eager` (workers sync
    /// by samples: `sync_every_samples`), whenever anything is pending. Eager rounds are
    /// clocked by the shell: it ticks again only once the last version is checkpointed, and
    /// what arrived meanwhile merges together. (Waiting for every worker's delta instead made
    /// the early senders learn alone until the slowest sent: on the Phishing replay that cost
    /// 4 workers 1.4 accuracy points against 0.1 merging at once, docs/BENCHMARKS.md.)
    public mutating func tick(now: Int64) -> [Directive] {
        guard !pending.isEmpty, eager || (syncIntervalMs > 0 && now - lastMerge >= syncIntervalMs) else { return [] }
        lastMerge = now
        let deltas = pending.values.sorted { $0.workerId < $1.workerId }
        let norms = robust.mode == .off ? nil : deltas.map { pendingNorms[$0.workerId] ?? ModelAveraging.norm(of: $0.parameterDelta) }
        let (kept, actions) = ModelAveraging.robust(deltas.map(\.parameterDelta), history: history.reference,
                                                    policy: robust, norms: norms)
        var out: [Directive] = []
        for (k, a) in actions.sorted(by: { $0.key < $1.key }) {
            let w = owners[k] ?? k
            switch a {
            case .accepted: break
            case .clipped(let n, let l):
                clipped[w, default: 0] += 1
                out.append(.log("clipped model delta from \(w): norm \(n) > limit \(l) (\(robust.factor) x the reference)"))
            case .samplesCapped(let c, let cap):
                clipped[w, default: 0] += 1
                out.append(.log("capped samples of the model delta from \(w): \(c) claimed, \(cap) counted"))
            case .rejected(let n, let l):
                rejected[w, default: 0] += 1
                out.append(.log("rejected model delta from \(w): norm \(n) > limit \(l) (\(robust.factor) x the reference)"))
            }
        }
        for d in kept {
            // A clipped delta was scaled: its norm again; an accepted one's was taken on arrival.
            if case .clipped? = actions[d.worker] { history.record(norm: ModelAveraging.norm(of: d), samples: d.samples) }
            else { history.record(norm: pendingNorms[d.worker] ?? ModelAveraging.norm(of: d), samples: d.samples) }
        }
        // Threads pay off from about a quarter million multiply-adds a round.
        let work = kept.reduce(0) { $0 + $1.valueCount }
        let merged = ModelAveraging.merge(global: parameters, deltas: kept, rule: rule, shards: work >= 1 << 18 ? shards : 1)
        if server.isPlain || kept.isEmpty {
            parameters = merged
        } else {
            if velocity.count != width { velocity = .init(repeating: 0, count: width) }
            for i in parameters.indices {
                velocity[i] = server.momentum * velocity[i] + (merged[i] - parameters[i])
                parameters[i] += server.learningRate * velocity[i]
            }
        }
        // Scaler moments add up (no averaging), each within the bounds of
        // `ModelAveraging.scalerRejection`, judged against the cluster's moments before this
        // round; a delta's counts may not exceed its samples after the robust cap.
        let keptSamples = Dictionary(kept.map { ($0.worker, $0.samples) }, uniquingKeysWith: { a, _ in a })
        let before = scaler
        for d in deltas where !d.scaler.isEmpty {
            guard let samples = keptSamples[d.workerId] else { continue }
            // Samples capped by the robust step: the scaler part counts for the same share.
            let part = ModelAveraging.scalerPart(d.scaler, counted: samples, claimed: d.samples)
            if robust.mode != .off,
               let why = ModelAveraging.scalerRejection(part, global: before, samples: samples, factor: max(robust.factor, 3) * 3) {
                rejectedScalers[owners[d.workerId] ?? d.workerId, default: 0] += 1
                out.append(.log("rejected the scaler moments of the model delta from \(d.workerId): \(why)"))
                continue
            }
            guard part.allSatisfy(\.isFinite) else { continue }
            if scaler.isEmpty { scaler = .init(repeating: 0, count: part.count) }
            guard part.count == scaler.count else { continue }
            for i in scaler.indices { scaler[i] += part[i] }
        }
        version += 1
        // Every worker's delta was handled (merged, clipped or rejected): each may send again.
        var contributions: [String: Int] = [:]
        for d in deltas {
            if let members = d.members { contributions.merge(members) { max($0, $1) } } else { contributions[d.workerId] = d.seq }
        }
        pending.removeAll()
        pendingNorms.removeAll()
        owners.removeAll()
        return out + [.publish(ModelUpdate(version: version, contributions: contributions, parameters: parameters, scaler: scaler))]
    }

    /// A worker that held partitions under an earlier coordinator registered (a restart or a
    /// takeover): what it sends merges at the next tick, not a whole interval after this
    /// process started, so averaging resumes within the interval of the re-registration.
    public mutating func mergeSoon(now: Int64) {
        lastMerge = min(lastMerge, now - syncIntervalMs)
    }

    /// Makes `p` the next version outright (import, rollback); pending deltas, taken against
    /// what is being replaced, are dropped.
    public mutating func replace(with p: [Double]) -> ModelUpdate? {
        guard p.count == width, p.allSatisfy(\.isFinite) else { return nil }
        pending.removeAll()
        pendingNorms.removeAll()
        owners.removeAll()
        velocity.removeAll()
        version += 1
        parameters = p
        return ModelUpdate(version: version, contributions: [:], parameters: p, reset: true)
    }

    /// A new set of models (deploy, retire): `p` and `s` laid out for it, the next version,
    /// a reset (workers take it exactly). Pending deltas belong to the old layout: dropped,
    /// and the robust reference starts again (norms of another dimension do not compare).
    public mutating func relayout(parameters p: [Double], scaler s: [Double]) -> ModelUpdate? {
        guard p.allSatisfy(\.isFinite), s.allSatisfy(\.isFinite) else { return nil }
        pending.removeAll()
        pendingNorms.removeAll()
        owners.removeAll()
        history.removeAll()
        velocity.removeAll()
        version += 1
        parameters = p
        scaler = s
        return ModelUpdate(version: version, contributions: [:], parameters: p, reset: true, scaler: s)
    }

    /// The next version with unchanged parameters (a promotion or A/B change takes effect at
    /// it). Pending deltas stay pending: workers rebase onto identical parameters, so their
    /// in-flight deltas remain valid.
    public mutating func bump() -> ModelUpdate {
        version += 1
        return ModelUpdate(version: version, contributions: [:], parameters: parameters, scaler: scaler)
    }

    /// Resume from a checkpoint (never backwards).
    /// `resize`: the checkpoint's models differ from the config's (deployed since), and its
    /// parameters are laid out for them.
    public mutating func restore(version v: Int, parameters p: [Double], scaler s: [Double] = [], resize: Bool = false) -> Bool {
        guard v >= version, p.count == width || resize, p.allSatisfy(\.isFinite) else { return false }
        version = v
        parameters = p
        velocity.removeAll()
        scaler = s.allSatisfy(\.isFinite) ? s : []
        return true
    }
}
