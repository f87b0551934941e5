import Models
import Wire

/// Which form of each global version goes to which worker (issue 28): a worker that holds the
/// previous version gets the difference (`VersionDiff`), any other the version whole. Pure:
/// the shell (`CoordinatorService`) says what it sent and what workers report.
///
/// With a lossy `compression` the weights workers hold (`view`) trail the merged parameters by
/// the rounding of the last difference, which the next one carries (error feedback); the
/// checkpoint and `model export` keep the merged parameters. Whole versions carry the view,
/// so every worker holds the same weights at a version and a later difference fits them all.
public struct VersionBroadcast: Sendable {
    public let compression: DeltaCompression
    /// The current version whole, with the weights workers hold (the view) as its parameters.
    public private(set) var whole: ModelUpdate?
    /// The weights of `version` as workers hold them.
    public var view: [Double] { whole?.parameters ?? [] }
    public var version: Int? { whole?.version }
    /// worker → the version of the view it was last sent (whole or as a difference).
    private var holds: [String: Int] = [:]
    /// worker → the version last sent whole because it reported a miss (one answer a miss).
    private var resent: [String: Int] = [:]
    /// worker → the version its welcome carried, until the next send to it.
    private var welcomedAt: [String: Int] = [:]

    public init(compression: DeltaCompression = .none) { self.compression = compression }

    /// A version to send: whole, and as a difference from the previous one when that is
    /// smaller. Imports, rollbacks and new layouts (`reset`, another width) go whole only.
    public mutating func next(_ u: ModelUpdate) -> (whole: ModelUpdate, diff: ModelUpdate?) {
        var full = u
        var diffed: ModelUpdate?
        if let from = version, !u.reset,
           let (d, v) = VersionDiff.make(from: view, to: u.parameters, compression: compression) {
            var m = u
            m.parameters = []
            m.diff = d
            m.diffFrom = from
            m.width = v.count
            diffed = m
            full.parameters = v
        }
        whole = full
        return (full, diffed)
    }

    /// Whether `worker` gets `diff` (it holds the version the difference was taken from).
    public func takesDiff(_ worker: String, _ diff: ModelUpdate?) -> Bool {
        guard let from = diff?.diffFrom else { return false }
        return holds[worker] == from
    }

    /// `worker` was sent `version` (whole or as a difference). One welcomed at that very
    /// version (merged before its checkpoint was done) keeps what the welcome gave it and
    /// ignores the send, so it does not hold the view: it gets the next version whole too.
    public mutating func sent(_ version: Int, to worker: String) {
        if let w = welcomedAt.removeValue(forKey: worker), w == version { return }
        holds[worker] = version
    }

    /// `worker` holds something else than a version we sent (unreachable, gone): it gets the
    /// next version whole.
    public mutating func forget(_ worker: String) {
        holds[worker] = nil
        resent[worker] = nil
        welcomedAt[worker] = nil
    }

    /// `worker` was welcomed with the merged parameters of `version` (not the view).
    public mutating func welcomed(_ worker: String, at version: Int) {
        forget(worker)
        welcomedAt[worker] = version
    }

    /// `worker` could not apply version `missed` (it lacked the version before it): the
    /// current version whole, once per miss (heartbeats repeat the report until it arrives).
    public mutating func missed(_ missed: Int, by worker: String) -> ModelUpdate? {
        guard let whole, let version, missed <= version, (resent[worker] ?? Int.min) < missed else { return nil }
        resent[worker] = version
        holds[worker] = version
        return whole
    }
}
