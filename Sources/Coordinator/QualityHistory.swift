import Wire

/// The coordinator's retained quality history: a sample of the cluster's status every
/// `intervalMs`, the newest `capacity` kept (a ring). Pure: time comes in.
public struct QualityHistory: Sendable {
    public let intervalMs: Int64
    public let capacity: Int
    private var ring: [QualitySample] = []
    private var next = 0
    private var lastMs: Int64?

    public init(intervalMs: Int64, capacity: Int = 1440) {
        self.intervalMs = intervalMs
        self.capacity = max(1, capacity)
    }

    /// Whether a sample is due at `now` (monotonic ms).
    public func due(now: Int64) -> Bool { lastMs.map { now - $0 >= intervalMs } ?? true }

    /// Keeps a sample taken of `status` at `now`; a status with no labelled figure yet is
    /// skipped (nothing to draw).
    public mutating func record(_ status: ClusterStatus, wallMs: Int64, now: Int64) {
        lastMs = now
        var models: [String: [String: Double]] = [:]
        for m in status.models where !m.windowMetrics.isEmpty { models[m.name] = m.windowMetrics }
        let champion = status.models.first { $0.champion }?.name ?? "champion"
        if models.isEmpty && !status.windowMetrics.isEmpty { models[champion] = status.windowMetrics }
        guard !models.isEmpty else { return }
        let s = QualitySample(wallMs: wallMs, version: status.modelVersion, driftDetections: status.driftDetections,
                              champion: champion, models: models)
        if ring.count < capacity { ring.append(s) } else { ring[next] = s }
        next = (next + 1) % capacity
    }

    /// The samples, oldest first.
    public var samples: [QualitySample] {
        ring.count < capacity ? ring : Array(ring[next...] + ring[..<next])
    }
}
