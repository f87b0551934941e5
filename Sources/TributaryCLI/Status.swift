import ArgumentParser
import Foundation
import Runtime
import Wire
import ZeroMQ

/// Lazy Pirate: REQ with a timeout; on silence close the socket, retry, then give up.
func fetchStatus(_ endpoint: String, timeoutMs: Int = 2000, retries: Int = 3, curve: CurveClient? = nil,
                 history: Bool = false) throws(ServiceError) -> ClusterStatus {
    // Several coordinators (`a,b`, issue 23): the active one's status; a standby names it.
    let list = endpoint.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    if list.count > 1 || endpoint.contains(",") {
        var firstError: ServiceError?
        var standby: ClusterStatus?
        for ep in list {
            do {
                let s = try fetchStatus(ep, timeoutMs: timeoutMs, retries: 1, curve: curve, history: history)
                if s.role != "standby" { return s }
                standby = standby ?? s
            } catch { firstError = firstError ?? error }
        }
        if let s = standby, let active = s.activeCoordinator, !list.contains(active),
           let a = try? fetchStatus(active, timeoutMs: timeoutMs, retries: 1, curve: curve, history: history) { return a }
        if let s = standby { return s }
        throw firstError ?? ServiceError("no coordinator in \(endpoint)")
    }
    let ctx = ZmqContext()
    var lastError = "no answer"
    for _ in 0..<retries {
        do {
            let req = try ZmqSocket(ctx, .req, lingerMs: 0)
            try req.connect(endpoint, curve: curve)
            try req.send(WireCodec.encode(.statusRequest(StatusRequest(history: history ? true : nil))))
            if zmqPollReadable([req], timeoutMs: timeoutMs)[0] {
                let reply = try req.receive()
                switch try WireCodec.decode(reply[...]) {
                case .status(let s):
                    // A standby: ask the active coordinator it names (once).
                    if s.role == "standby", let active = s.activeCoordinator, active != endpoint,
                       let a = try? fetchStatus(active, timeoutMs: timeoutMs, retries: 1, curve: curve, history: history) {
                        return a
                    }
                    return s
                case .error(let e): lastError = "coordinator answered: \(e.message)"
                case let other: lastError = "unexpected answer '\(other.typeName)'"
                }
            } else {
                lastError = "no answer within \(timeoutMs) ms"
            }
        } catch {
            lastError = "\(error)"
        }
    }
    let hint = curve == nil ? "Is the coordinator running there? (with [security] curve = true: pass --key and --server-key)"
                            : "Is the coordinator running there, with this client's public key in security.status_keys or worker_keys?"
    throw ServiceError("cannot read status from \(endpoint) (\(retries) tries): \(lastError). \(hint)")
}

func formatStatus(_ s: ClusterStatus) -> String {
    var out = "cluster \(s.cluster)  bootstrap \(s.bootstrap)  input \(s.inputTopic) (\(s.partitionCount) partitions)  up \(s.uptimeMs / 1000)s\n"
    if let role = s.role {
        out += role == "active" ? "coordinator: active (leader epoch \(s.leaderEpoch ?? 0)) at \(s.activeCoordinator ?? "?")\n"
            : "coordinator: standby; active \(s.activeCoordinator ?? "not known") (epoch \(s.leaderEpoch ?? 0))\n"
    }
    out += "global model v\(s.modelVersion)  sync \(String(format: "%.0f", s.syncBytesPerSecond)) B/s  rejected deltas \(s.rejectedDeltas)  clipped deltas \(s.clippedDeltas)  rejected scalers \(s.rejectedScalers)\n"
    if let r = s.relays, !r.isEmpty {
        out += "relays (combined deltas received): " + r.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
    }
    let labels = s.workers.compactMap { $0.report?.labels }
    if !labels.isEmpty {
        let l = labels.reduce(LabelStats(), +)
        out += "labels: joined \(l.joined)  waiting \(l.pending) (\(l.pendingBytes / 1024) KiB; early labels \(l.earlyLabels))  expired \(l.expired) (early \(l.evicted))  late \(l.late)\(l.lateLearnt > 0 ? " (learnt \(l.lateLearnt))" : "")  duplicate \(l.duplicate)  unknown id \(l.unknown)  no id \(l.noId)  handed on \(l.handedOn)  dead letters \(l.deadLetters)  delay p50 \(String(format: "%.1f", l.delayP50))s p99 \(String(format: "%.1f", l.delayP99))s\n"
    }
    if let r = s.reference {
        var line = "N-vs-1 (\(r.samples) sampled events): cluster loss \(String(format: "%.4f", r.clusterLoss)), one learner \(String(format: "%.4f", r.referenceLoss))"
        if let a = r.clusterAccuracy, let b = r.referenceAccuracy { line += "; accuracy \(String(format: "%.4f", a)) vs \(String(format: "%.4f", b))" }
        if r.refused > 0 { line += "; \(r.refused) samples refused" }
        if r.gap > r.warnGap { line += "  WARNING: gap \(String(format: "%.4f", r.gap)) > reference_warn \(r.warnGap)" }
        out += line + "\n"
    }
    if !s.checkpointProblem.isEmpty { out += "checkpoint: \(s.checkpointProblem) (retrying; workers keep the last version)\n" }
    if !s.task.isEmpty, let n = s.metrics["count"], n > 0 {
        func line(_ d: [String: Double]) -> String {
            d.filter { $0.key != "count" }.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }
                .joined(separator: "  ")
        }
        out += "quality (\(s.task), progressive): run \(Int(n)) labelled: \(line(s.metrics))\n"
        out += "  recent \(Int(s.windowMetrics["count"] ?? 0)) (each worker's last window): \(line(s.windowMetrics))"
            + "  drift detections \(s.driftDetections)\n"
    }
    if !s.models.isEmpty {
        // Several models: side by side, the same progressive figures over the same records.
        let names = s.models.first.map { $0.metrics.keys.filter { $0 != "count" }.sorted() } ?? []
        out += "MODEL".padding(18) + "ROLE".padding(12) + "A/B".padding(7) + "INPUTS".padding(8) + "SERVED".padding(11) + "LABELLED".padding(10)
            + names.map { $0.uppercased().padding(10) }.joined() + names.map { ("RECENT " + $0.uppercased()).padding(18) }.joined() + "\n"
        for m in s.models {
            out += m.name.padding(18) + (m.champion ? "champion" : "challenger").padding(12)
                + (m.champion ? "-" : String(format: "%.0f%%", m.abShare * 100)).padding(7) + String(m.features).padding(8)
                + String(m.served).padding(11) + String(m.labelled).padding(10)
                + names.map { String(format: "%.4f", m.metrics[$0] ?? 0).padding(10) }.joined()
                + names.map { String(format: "%.4f", m.windowMetrics[$0] ?? 0).padding(18) }.joined() + "\n"
        }
        for line in s.lifecycleLog.suffix(3) { out += "lifecycle: \(line)\n" }
    }
    out += "WORKER".padding(24) + "HOST".padding(14) + "PID".padding(8) + "STATE".padding(9)
        + "PARTITIONS".padding(22) + "EVENTS/S".padding(10) + "PROCESSED".padding(11) + "LAG".padding(9) + "DLQ".padding(7) + "ACC".padding(7) + "MODEL (AGE)".padding(18) + "BEAT\n"
    for w in s.workers {
        let r = w.report
        let parts = w.partitions.map { "\($0.partition)@\($0.epoch)" }.joined(separator: ",")
        let lag = r?.partitions.reduce(Int64(0)) { $0 + max(0, $1.lag) } ?? 0
        out += w.workerId.padding(24) + w.host.padding(14) + String(w.pid).padding(8) + w.state.rawValue.padding(9)
            + (parts.isEmpty ? "-" : parts).padding(22)
            + String(format: "%.0f", r?.eventsPerSecond ?? 0).padding(10) + String(r?.processed ?? 0).padding(11)
            + String(lag).padding(9) + String(r?.deadLetters ?? 0).padding(7)
            + String(format: "%.3f", r?.accuracy ?? 0).padding(7) + modelColumn(r, global: s.modelVersion).padding(18)
            + "\(w.lastHeartbeatMsAgo)ms ago\n"
    }
    // Feature state per partition: size, and what the last restore took.
    for w in s.workers {
        guard let r = w.report else { continue }
        let stateful = r.partitions.filter { $0.keys > 0 || $0.restoreMs > 0 }
        if !stateful.isEmpty {
            out += "state \(w.workerId): " + stateful.map { p in
                var t = "p\(p.partition) \(p.keys) keys"
                if p.stateBytes > 0 { t += " \(p.stateBytes / 1024) KiB" }
                if p.restoreMs > 0 || p.restoredKeys > 0 { t += " (restored \(p.restoredKeys) in \(p.restoreMs) ms)" }
                return t
            }.joined(separator: ", ") + "\n"
        }
        var notes: [String] = []
        if !r.badValues.isEmpty {
            notes.append("bad values " + r.badValues.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
        if r.lateDropped > 0 { notes.append("late dropped \(r.lateDropped)") }
        if r.expiredKeys > 0 { notes.append("expired keys \(r.expiredKeys)") }
        if r.keyMismatches > 0 { notes.append("records not keyed by \(s.keyField) \(r.keyMismatches) (per-key state may be split)") }
        if !notes.isEmpty { out += "features \(w.workerId): " + notes.joined(separator: ", ") + "\n" }
        if r.transactionsCommitted + r.transactionsAborted + r.fencedPartitions > 0 {
            out += "exactly-once \(w.workerId): \(r.transactionsCommitted) transactions committed, \(r.transactionsAborted) aborted (replayed), \(r.fencedPartitions) partitions given up (fenced)\n"
        }
    }
    let un = s.unassigned.isEmpty ? "none" : s.unassigned.map(String.init).joined(separator: ",")
    for w in s.workers {
        if let e = w.report?.kafkaError, !e.isEmpty { out += "KAFKA TROUBLE on \(w.workerId) (\(w.report!.kafkaErrorMsAgo) ms ago): \(e)\n" }
    }
    let skipped = s.workers.compactMap(\.report).reduce(Int64(0)) { $0 + $1.skippedOffsets }
    if s.curve {
        out += "security: CURVE on, \(s.connectionsRefused) connections refused (unknown key), \(s.messagesForbidden) messages refused (status-only key)\n"
    }
    let again = s.workers.compactMap(\.report).reduce(Int64(0)) { $0 + $1.redeliveredOffsets }
    if again > 0 { out += "note: \(again) input records were delivered again by the Kafka consumer and skipped (already processed)\n" }
    if skipped > 0 { out += "WARNING: \(skipped) input offsets were never read (deleted by the broker before a worker reached them)\n" }
    out += "total: \(s.workers.count) workers, \(String(format: "%.0f", s.totalEventsPerSecond)) events/s, \(s.totalProcessed) processed, \(s.totalDeadLetters) dead letters, accuracy \(String(format: "%.4f", s.accuracy)), unassigned partitions: \(un)"
    return out
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show cluster status read from the coordinator over ZeroMQ.")
    @Option(help: "The coordinator's endpoint (default: $TRIBUTARY_COORDINATOR, else tcp://127.0.0.1:7400).")
    var coordinator: String = BuildInfo.defaultCoordinator
    @Flag(help: "Print the status as JSON (the wire message body).") var json = false
    @Flag(help: "Refresh every second until Ctrl-C (redrawn in place on a terminal, appended into a pipe).") var watch = false
    @OptionGroup var security: CurveOptions

    func run() throws {
        Signals.installStopHandlers()
        let curve = security.client()
        if watch && !json { LiveView.begin() }
        repeat {
            let s: ClusterStatus
            do { s = try fetchStatus(coordinator, curve: curve) } catch { fail(error.description) }
            if json {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys, .prettyPrinted]
                say(String(decoding: try enc.encode(s), as: UTF8.self))
            } else if watch {
                LiveView.show(formatStatus(s))
            } else {
                say(formatStatus(s))
            }
            if watch { for _ in 0..<10 where !Signals.shouldStop { usleep(100_000) } }
        } while watch && !Signals.shouldStop
    }
}

/// "v12 (0.4s)", or "v10 -2 (3.1s)" for a worker two versions behind the global model.
func modelColumn(_ r: WorkerReport?, global: Int) -> String {
    guard let r else { return "-" }
    let behind = global - r.modelVersion
    return "v\(r.modelVersion)" + (behind > 0 ? " -\(behind)" : "") + " (" + String(format: "%.1f", Double(r.modelAgeMs) / 1000) + "s)"
}
