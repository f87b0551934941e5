import ArgumentParser
import Foundation
import Config
import Features
import Kafka
import Models
import Runtime
import Wire
import Worker

/// Kappa-style warm-up (issue 11): a new model learns from the input topic's retained
/// history, then joins live scoring as a challenger with what it learnt. It reads with a
/// consumer group of its own and commits nothing, so the live offsets never move.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Warm a new model on retained history, then deploy it into the running cluster.",
        discussion: """
        Reads every input partition from --from (an offset in every partition, an ISO-8601
        time such as 2026-11-24T10:00:00Z, or @EPOCH_MS) up to the end as it was when the
        replay started,
        computes the cluster's features (per partition, as workers do), trains the model of
        SPEC (predict, then learn), and deploys it with its weights and scaler as a challenger.
        The live consumer group's offsets are not touched.
        """)
    @Option(help: "The coordinator's endpoint (default: $TRIBUTARY_COORDINATOR, else tcp://127.0.0.1:7400).")
    var coordinator: String = BuildInfo.defaultCoordinator
    @OptionGroup var security: CurveOptions
    @Option(help: "The cluster's config file (features, topics, Kafka settings).") var config: String = "cluster.conf"
    @Option(help: "Where to start: an offset (in every partition), an ISO-8601 time, or @EPOCH_MS.") var from: String = "0"
    @Option(help: "The model spec file (as for `model deploy`).") var model: String
    @Flag(help: "Train only; do not deploy.") var dryRun = false

    func run() throws {
        Signals.installStopHandlers()
        let cfg = loadConfig(config)
        // An offset, or a time (the first record at or after it, per partition).
        var fromOffset: Int64 = 0
        var fromTime: Int64?
        if let o = Int64(from), o >= 0 {
            fromOffset = o
        } else if from.hasPrefix("@"), let ms = Int64(from.dropFirst()) {
            fromTime = ms
        } else if let d = ISO8601DateFormatter().date(from: from) {
            fromTime = Int64(d.timeIntervalSince1970 * 1000)
        } else {
            fail("--from '\(from)' is neither an offset (>= 0), an ISO-8601 time (2026-11-24T10:00:00Z) nor @EPOCH_MS")
        }
        let (text, entry) = readModelSpec(model)
        if let why = ModelLayout(models: [entry], champion: entry.name).problem(with: cfg.features) { fail("\(model): \(why)") }
        let status: ClusterStatus
        do { status = try fetchStatus(coordinator, curve: security.client()) } catch { fail(error.description) }
        let topic = cfg.kafka.inputTopic
        var c = KafkaClientConfig(cfg.kafka.client)
        c["bootstrap.servers"] = status.bootstrap
        // A group of its own, never committed: the live group's offsets stay where they are.
        c["group.id"] = "tributary-replay-\(entry.name)-\(getpid())"
        c["enable.auto.commit"] = "false"
        c["enable.auto.offset.store"] = "false"
        if cfg.kafka.isEmbedded { c["fetch.wait.max.ms"] = "5" }
        let consumer: KafkaConsumer
        do { consumer = try KafkaConsumer(config: c, batchSize: 1000) } catch { fail("\(error)") }
        let n: Int
        do { n = try consumer.partitionCount(topic: topic) } catch { fail("input topic \(topic): \(error)") }
        let tps = (0..<n).map { TopicPartition(topic, Int32($0)) }
        var ends: [Int32: Int64] = [:]
        var starts: [TopicPartition: Int64] = [:]
        // librdkafka's mock cluster answers every lookup by time with "none" (-1), so on the
        // embedded broker a replay from a time reads from the start and skips older records
        // itself; a real broker looks the offsets up.
        let scanForTime = fromTime != nil && cfg.kafka.isEmbedded
        do {
            let times = scanForTime ? nil : try fromTime.map { try consumer.offsets(at: $0, tps) }
            for tp in tps {
                let wm = try consumer.queryWatermarks(tp)
                ends[tp.partition] = wm.high
                var start = max(fromOffset, wm.low)
                if let t = times?[tp] { start = t < 0 ? wm.high : max(t, wm.low) }
                starts[tp] = start
            }
            for tp in tps where starts[tp]! < ends[tp.partition]! { try consumer.assign([tp], start: .offset(starts[tp]!)) }
        } catch { fail("\(error)") }

        // Per partition, as workers keep it: the feature state of its keys.
        let classes = cfg.model.type == .softmaxRegression ? cfg.model.classes : []
        // The worker's own per-record path (parse, features, predict then learn), per partition state.
        var runner = RecordRunner(pipeline: FeaturePipeline(spec: cfg.features, labelClasses: classes))
        var states = Dictionary(uniqueKeysWithValues: tps.map { ($0.partition, runner.pipeline.makeState()) })
        var set = ModelSet(layout: ModelLayout(models: [entry], champion: entry.name), features: cfg.features)
        var evaluation = entry.spec.makeEvaluation()
        var positions = starts.reduce(into: [Int32: Int64]()) { $0[$1.key.partition] = $1.value }
        var read = 0, learnt = 0, skipped = 0
        let total = tps.reduce(Int64(0)) { $0 + ends[$1.partition]! - starts[$1]! }
        if scanForTime { say("the embedded broker cannot look offsets up by time: reading from the start and skipping records before \(from)") }
        say("replaying \(scanForTime ? "up to " : "")\(total) records of \(topic) (\(tps.map { "p\($0.partition) \(starts[$0]!)..<\(ends[$0.partition]!)" }.joined(separator: ", "))) into model \(entry.name)")
        var idle = 0
        var lastProgress = Clock.nowMs()
        let progress = ProgressLine(total: total, unit: "records", startedMs: lastProgress)
        func done() -> Bool { tps.allSatisfy { positions[$0.partition]! >= ends[$0.partition]! } }
        while !done() && !Signals.shouldStop {
            let got = consumer.poll(timeoutMs: 100) { rec in
                let p = rec.partition
                guard let end = ends[p], rec.offset < end else { return }
                positions[p] = rec.offset + 1
                if scanForTime, let t = fromTime, rec.timestampMs < t { return }
                read += 1
                // Bad and late records are the dead-letter topic's already (the live workers
                // sent them there), or dropped by the config.
                let outcome = runner.run(value: rec.value, key: rec.key, kafkaTimestampMs: rec.timestampMs, state: &states[p]!,
                                         models: &set, evaluation: &evaluation) { learnt += 1 }
                guard case .scored = outcome else {
                    skipped += 1
                    return
                }
            }
            idle = got == 0 ? idle + 1 : 0
            if idle > 300 { fail("no records for 30 s with \(total - Int64(read)) still to read: were they deleted by retention?") }
            if Clock.nowMs() - lastProgress >= 2000 {
                lastProgress = Clock.nowMs()
                say("  " + progress.text(done: Int64(read), nowMs: lastProgress))
            }
        }
        if Signals.shouldStop { fail("interrupted after \(read) records; nothing deployed") }
        let figures = evaluation.report.whole.figures.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
        say("replayed \(read) records (\(learnt) labelled, \(skipped) skipped as bad or late): progressive \(figures)")
        guard !dryRun else { return }
        let u = modelRequest(coordinator, ModelCommand(action: "deploy", parameters: set.parameters + set.scalerMoments, spec: text),
                             curve: security.client())
        say("deployed model \(entry.name) with what it learnt at global model version \(u.version)")
    }
}
