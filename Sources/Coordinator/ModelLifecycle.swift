import Config
import Models
import Wire
import Features

/// The cluster's models and their lifecycle (issue 11): deploy, retire, promote, A/B
/// shares, and the promotion rule. Pure (values in, a new layout or an error out); the
/// coordinator's shell turns each change into a global model version, so every worker
/// switches at the same version.
public struct ModelLifecycle: Sendable {
    public private(set) var layout: ModelLayout
    public private(set) var geometry: ModelGeometry
    public let features: FeatureSpec
    public let rule: LifecycleSection
    /// Decisions, newest last (shown in status), at most 20.
    public private(set) var decisions: [String] = []
    /// Labelled records each model had scored at the last change of champion or models: the
    /// rule waits for `promote_min_records` more before it looks again (no flapping).
    private var baselines: [String: Int64] = [:]

    public init(layout: ModelLayout, features: FeatureSpec, rule: LifecycleSection = LifecycleSection()) {
        self.layout = layout
        self.features = features
        self.rule = rule
        geometry = ModelGeometry(layout, features: features)
    }

    public mutating func note(_ line: String) {
        decisions.append(line)
        if decisions.count > 20 { decisions.removeFirst(decisions.count - 20) }
    }

    /// A new layout and the parameters and scaler carried over to it.
    public struct Change: Sendable, Equatable {
        public var layout: ModelLayout
        public var parameters: [Double]
        public var scaler: [Double]
    }

    /// Adds `entry`. `initial`: its weights, optionally followed by its scaler's raw moments
    /// (as `tributary replay` warms them); empty = a fresh model.
    public func deploying(_ entry: ModelEntry, initial: [Double], parameters: [Double], scaler: [Double]) -> Result<Change, LifecycleError> {
        guard layout.index(of: entry.name) == nil else { return .failure(.init("a model named '\(entry.name)' is already deployed")) }
        var next = layout
        next.models.append(entry)
        if let why = next.problem(with: features) { return .failure(.init(why)) }
        let g = ModelGeometry(next, features: features)
        let part = g.parts[g.parts.count - 1]
        let withScaler = part.parameterCount + 3 * part.scalerWidth
        guard initial.isEmpty || initial.count == part.parameterCount || initial.count == withScaler else {
            return .failure(.init("model \(entry.name) has \(part.parameterCount) parameters\(part.scalerWidth > 0 ? " (\(withScaler) with its scaler moments)" : ""), the weights given have \(initial.count)"))
        }
        guard initial.allSatisfy(\.isFinite) else { return .failure(.init("the weights given contain NaN or infinity")) }
        let (p, s) = ModelGeometry.remap(parameters: parameters, scaler: scaler, from: (layout, geometry), to: (next, g)) { i in
            i == g.parts.count - 1 ? initial : []
        }
        return .success(Change(layout: next, parameters: p, scaler: s))
    }

    /// The error for a name no model has, listing the models there are.
    public func missing(_ name: String) -> LifecycleError {
        .init("no model named '\(name)' (models: \(layout.models.map(\.name)))")
    }

    public func retiring(_ name: String, parameters: [Double], scaler: [Double]) -> Result<Change, LifecycleError> {
        guard let i = layout.index(of: name) else { return .failure(missing(name)) }
        guard name != layout.champion else {
            return .failure(.init("'\(name)' is the champion; promote another model first"))
        }
        var next = layout
        next.models.remove(at: i)
        let g = ModelGeometry(next, features: features)
        let (p, s) = ModelGeometry.remap(parameters: parameters, scaler: scaler, from: (layout, geometry), to: (next, g)) { _ in [] }
        return .success(Change(layout: next, parameters: p, scaler: s))
    }

    /// The layout with `name` as the champion (same models: no parameter moves).
    public func promoting(_ name: String) -> Result<ModelLayout, LifecycleError> {
        guard layout.index(of: name) != nil else { return .failure(missing(name)) }
        guard name != layout.champion else { return .failure(.init("'\(name)' is the champion already")) }
        var next = layout
        next.champion = name
        if let why = next.problem(with: features) { return .failure(.init(why)) }
        return .success(next)
    }

    public func sharing(_ name: String, _ share: Double) -> Result<ModelLayout, LifecycleError> {
        guard let i = layout.index(of: name) else { return .failure(missing(name)) }
        guard name != layout.champion else { return .failure(.init("'\(name)' is the champion: it gets every key no challenger takes")) }
        var next = layout
        next.models[i].abShare = share
        if let why = next.problem(with: features) { return .failure(.init(why)) }
        return .success(next)
    }

    /// Takes a change made by the functions above.
    /// `now`: the models' current figures (their labelled counts become the rule's baselines).
    public mutating func adopt(_ l: ModelLayout, now: [ModelStatus]) {
        if !l.sameModels(as: layout) { geometry = ModelGeometry(l, features: features) }
        layout = l
        baselines = Dictionary(now.map { ($0.name, $0.labelled) }, uniquingKeysWith: { a, _ in a })
    }

    /// Each model's figures merged over workers' reports, champion first.
    public func statuses(_ reports: [WorkerReport]) -> [ModelStatus] {
        guard layout.models.count > 1 else { return [] }
        var out: [ModelStatus] = []
        for (i, m) in layout.models.enumerated() {
            var st = ModelStatus(name: m.name, champion: m.name == layout.champion, abShare: m.abShare,
                                 features: geometry.parts[i].dense + geometry.parts[i].hashed)
            var merged: EvaluationReport?
            for r in reports {
                guard let mr = r.models.first(where: { $0.name == m.name }) else { continue }
                st.served += mr.served
                if merged == nil { merged = mr.evaluation } else { merged!.merge(mr.evaluation) }
            }
            if let e = merged {
                st.labelled = e.whole.count
                st.metrics = e.whole.summary
                st.windowMetrics = e.window.summary
            }
            out.append(st)
        }
        return out.sorted { $0.champion && !$1.champion }
    }

    /// The promotion rule (docs/CONFIG.md, [lifecycle]): a challenger that has scored at
    /// least `promote_min_records` labelled records since the last change, and whose metric
    /// over the recent window (each worker's last `metrics_window` labelled records: the same
    /// records for every model) beats the champion's by more than `promote_margin`. The best
    /// such challenger is named, with the reason; nil when none qualifies.
    public func ruleDecision(_ models: [ModelStatus]) -> (name: String, reason: String)? {
        let metric = rule.promoteMetric
        guard !metric.isEmpty, let champ = models.first(where: \.champion),
              let c = champ.windowMetrics[metric] else { return nil }
        let lower = LifecycleSection.lowerIsBetter.contains(metric)
        var best: (name: String, gain: Double, value: Double)?
        for m in models where !m.champion {
            guard m.labelled - (baselines[m.name] ?? 0) >= Int64(rule.promoteMinRecords),
                  let v = m.windowMetrics[metric] else { continue }
            let gain = lower ? c - v : v - c
            if gain > rule.promoteMargin && gain > (best?.gain ?? -.infinity) { best = (m.name, gain, v) }
        }
        guard let b = best else { return nil }
        func f(_ x: Double) -> String { String(format: "%.4f", x) }
        return (b.name, "\(b.name)'s \(metric) \(f(b.value)) beats champion \(champ.name)'s \(f(c)) by \(f(b.gain)) > margin \(f(rule.promoteMargin)) over the recent window (\(champ.windowMetrics["count"].map { Int($0) } ?? 0) labelled records)")
    }
}
