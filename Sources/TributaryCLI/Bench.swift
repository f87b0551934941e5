import ArgumentParser
import Foundation
import Config
import Histogram
import Features
import Kafka
import Models
import Runtime
import Wire
import Worker

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark on one broker (the embedded mock by default, or Tansu, or an external cluster): bare librdkafka consume, Tributary's full path (1 and 2 workers, with and without parameter sync) and the Python peer, on the same records in one run.")
    @Option(help: "Events to produce and consume.") var events: Int = 300_000
    @Option(help: "Partitions of the input topic (the mock keeps ~5 MB per partition).") var partitions: Int = 32
    @Option(help: "The Python peer's folder (confluent-kafka + River); \"\" skips it.")
    var peer: String = "../shared/peers/python-river"
    @Option(help: "Events the Python peer processes (it is ~20k/s; its rate is per event).") var peerEvents: Int = 100_000
    @Option(help: "librdkafka consumer settings used by every side, key=value,... (default: fetch.wait.max.ms=1 on the embedded broker, whose fetches are slow otherwise; fetch.wait.max.ms=50 on a real one, where 1 ms made the consumers flood Tansu with empty fetches: p99 latency of seconds at 5,000 events/s)")
    var consumerConf: String?
    /// `--consumer-conf`, or the default for the broker measured.
    var consumerSettings: String { consumerConf ?? (broker == "embedded" ? "fetch.wait.max.ms=1" : "fetch.wait.max.ms=50") }
    @Option(help: "librdkafka producer settings of the throughput runs' output producers (bare consume + produce and the workers), key=value,... (default: the worker's, linger.ms=20)")
    var producerConf: String = ""

    static func pairs(_ text: String) -> [String: String] {
        Dictionary(text.split(separator: ",").compactMap { kv -> (String, String)? in
            let p = kv.split(separator: "=", maxSplits: 1)
            return p.count == 2 ? (String(p[0]), String(p[1])) : nil
        }, uniquingKeysWith: { _, b in b })
    }
    @Option(help: "Write the JSON result here too.") var output: String?
    @Option(help: "worker.max_in_flight for the Tributary runs.") var maxInFlight: Int = 50_000
    @Option(help: "Brokers in the embedded (mock) cluster.") var brokers: Int = 1
    @Option(help: "The broker to measure against: embedded (librdkafka's mock cluster), tansu (a real Kafka-protocol broker started for the run; the bench runs itself with the confluent-kafka wheel's librdkafka 2.16), or HOST:PORT of an external cluster.")
    var broker: String = "embedded"
    @Option(help: "Input rate of the latency run (default: half the measured 1-worker rate).") var latencyRate: Double?
    @Option(help: "The worker's producer linger.ms in the latency run (the throughput runs keep the default, 20).")
    var latencyLingerMs: Int = 5
    @Option(help: "Partitions of the latency run's topics. Measured on the mock: at 35,000 events/s with 32 partitions the latency crept from 20 to 400 ms within 6 s in 2 runs of 3; with 4 or 8 it stayed flat.")
    var latencyPartitions: Int = 8
    @Option(help: "Measure the no-work consume + produce run and the 1-worker run N times, alternately, and report the median of their ratios (throughput and CPU) beside the first pair's: on a shared machine one pair can move by a third.")
    var `repeat`: Int = 1
    @Option(help: "Only these parts, comma-separated: bare, tributary, python, latency, sync, pipeline (default: all). latency without tributary needs --latency-rate; pipeline alone needs no broker.")
    var only: String = "bare,tributary,python,latency,sync,pipeline,labels,pretrained,workloads"
    @Option(help: "Where tools/bench_models.py is (the pretrained part trains its models with scikit-learn; \"\" skips it) and tools/bench_peer.py (the workloads' Python peer).")
    var tools: String = "tools"
    @Option(help: "Where the examples are (the workloads part runs examples/tweets and examples/fraud with their generators and configs).")
    var examples: String = "examples"
    @Option(help: "Append the coordinator's and workers' logs to this file (default: discarded).") var logFile: String?
    @Option(help: "Write every latency sample here: event time (ms since the run started), end to end, event -> worker produces (ms).")
    var latencyTrace: String?

    /// Where the children's stderr goes.
    func childLog() -> FileHandle? {
        guard let logFile else { return FileHandle(forWritingAtPath: "/dev/null") }
        if !FileManager.default.fileExists(atPath: logFile) { _ = FileManager.default.createFile(atPath: logFile, contents: nil) }
        let h = FileHandle(forWritingAtPath: logFile)
        h?.seekToEndOfFile()
        return h
    }

    func runs(_ part: String) -> Bool { only.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == part } }

    func validate() throws {
        let known: Set = ["bare", "tributary", "python", "latency", "sync", "pipeline", "labels", "pretrained", "workloads"]
        for p in only.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !known.contains(p) {
            throw ValidationError("--only: unknown part '\(p)' (known: bare, tributary, python, latency, sync, pipeline, labels, pretrained, workloads)")
        }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1 (got \(`repeat`))") }
        if runs("latency") && !runs("tributary") && latencyRate == nil {
            throw ValidationError("--only latency without tributary needs --latency-rate (the default is half the measured 1-worker rate)")
        }
    }

    func run() throws {
        Signals.installStopHandlers()
        // The workloads' records, made once for their Kafka runs and the in-process pipeline.
        let dir = NSTemporaryDirectory() + "tributary-bench-workloads-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let jobs = (runs("workloads") || runs("pipeline")) && !examples.isEmpty
            ? BenchWorkload.generate(examples: examples, events: events, into: dir, log: childLog(), say: { say($0) }) : []
        if only.split(separator: ",").allSatisfy({ $0.trimmingCharacters(in: .whitespaces) == "pipeline" }) {
            let (main, more) = pipelineRun(jobs)
            report([], pipeline: main, pipelineWorkloads: more)
            return
        }
        let conf = Self.pairs(consumerSettings)
        let broker: BenchBroker
        do {
            if self.broker == "tansu" { try BenchBroker.reexecForTansuIfNeeded() }
            broker = try BenchBroker(self.broker, embeddedBrokers: brokers)
            for t in ["events", "predictions", "events.dlq", "tributary.models", "events-latency", "predictions-latency", "labels-bench",
                      "events-bare-latency", "tweets", "tweets.dlq", "tweets-online", "tweets-online.dlq", "payments", "payments.dlq"] {
                try broker.createTopic(t, partitions: t == "tributary.models" ? 1 : t.hasSuffix("-latency") ? latencyPartitions : partitions)
            }
        } catch { fail("\(error)") }
        let bootstrap = broker.bootstrap
        say("broker: \(broker.label); producing \(events) events to \(partitions) partitions")
        produceEvents(bootstrap: bootstrap)

        var results: [RunResult] = []
        if runs("bare") {
            results.append(bareConsume(broker: broker, conf: conf))
            say(line(results.last!))
            // The Kafka I/O of any pipeline (consume, produce one ~150-byte record each), no work:
            // on the mock broker this, not the bare consume, is the ceiling for a full path.
            results.append(bareConsume(broker: broker, conf: conf, produce: true))
            say(line(results.last!))
        }
        // The last run: the N-vs-1 monitor on 0.5 % of the keys (about what one delta a second
        // may carry at this rate: `ReferenceSample.perDelta`).
        for (workers, sync, challenger, reference) in [(1, 0, false, 0.0), (1, 1000, false, 0), (2, 1000, false, 0), (1, 1000, true, 0),
                                                       (1, 1000, false, 0.005)] {
            guard !Signals.shouldStop, runs("tributary") else { break }
            let r = tributaryRun(broker: broker, workers: workers, syncMs: sync, conf: conf, challenger: challenger, reference: reference)
            results.append(r)
            say(line(r))
        }
        // The pairs behind the median ratios: the first run of each, then `repeat - 1` more.
        var pairs: [(io: RunResult, ours: RunResult)] = []
        if runs("bare") && runs("tributary"), let io = results.first(where: { $0.name == "bare consume + produce" }),
           let ours = results.first(where: { $0.name == "tributary 1 worker, sync off" }) {
            pairs.append((io, ours))
            for k in 1..<`repeat` where !Signals.shouldStop {
                let io = bareConsume(broker: broker, conf: conf, produce: true)
                let ours = tributaryRun(broker: broker, workers: 1, syncMs: 0, conf: conf)
                say("repeat \(k + 1) of \(`repeat`): " + line(io) + "; " + line(ours))
                pairs.append((io, ours))
            }
        }
        // What keeping a snapshot per served event costs (`[labels]`): the same unlabelled
        // stream scored with and without predictions waiting for labels (none come: every
        // event keeps one, under its user's id).
        for waiting in [false, true] where runs("labels") && !Signals.shouldStop {
            let r = tributaryRun(broker: broker, workers: 1, syncMs: 0, conf: conf, labels: waiting ? .waiting : .unlabelled)
            results.append(r)
            say(line(r))
        }
        // Models trained offline (scikit-learn), served: a hashed-text logistic model scoring
        // tweets, and a 100-tree forest on the default stream's 8 features.
        if runs("pretrained") && !tools.isEmpty && !Signals.shouldStop {
            let dir = NSTemporaryDirectory() + "tributary-bench-models-\(getpid())"
            let py = Process()
            py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            py.arguments = ["python3", tools + "/bench_models.py", dir, "--tweets", String(events)]
            py.standardError = childLog()
            if (try? py.run()) != nil { py.waitUntilExit() }
            if py.terminationStatus == 0 {
                produceFile(dir + "/tweets.jsonl", topic: "tweets", bootstrap: bootstrap)
                for served in [ServedModel.tweets(dir), .forest(dir)] where !Signals.shouldStop {
                    let r = tributaryRun(broker: broker, workers: 1, syncMs: 0, conf: conf, served: served)
                    results.append(r)
                    say(line(r))
                }
            } else {
                say("pretrained: \(tools)/bench_models.py failed (scikit-learn installed?); skipped")
            }
        }
        if runs("workloads") && !Signals.shouldStop {
            results += workloads(jobs, bootstrap: bootstrap, broker: broker, conf: conf)
        }
        var pendingBytes: Double?
        if runs("labels") {
            pendingBytes = Self.labelPendingBytes()
            say(String(format: "a waiting prediction (8 dense features, 1 output, its id and the join's index): %.0f bytes of resident memory", pendingBytes!))
        }
        if !peer.isEmpty, runs("python"), !Signals.shouldStop {
            if let r = pythonPeer(bootstrap: bootstrap, conf: conf) { results.append(r); say(line(r)) }
        }
        var latency: Latency?
        let one = results.first(where: { $0.name == "tributary 1 worker, sync off" })
        if runs("latency"), let rate = latencyRate ?? one.map({ $0.eventsPerSecond / 2 }), !Signals.shouldStop {
            latency = latencyRun(broker: broker, conf: conf, rate: rate)
            // The floor: the same rate through the broker alone, no worker between.
            if let bare = latencyRun(broker: broker, conf: conf, rate: rate, bare: true) { latency?.kafkaAlone = bare.endToEnd }
        }
        var pause: SyncPause?
        if runs("sync") {
            let p = syncPause(weights: 1 << 20)
            say(String(format: "sync of a 2^20-weight model: worker %.1f ms (delta + encode), coordinator %.1f ms per worker (decode + merge), worker %.1f ms (decode + rebase)",
                       p.workerDeltaMs, p.coordinatorMergeMs, p.workerRebaseMs))
            pause = p
        }
        let costs = runs("pipeline") ? pipelineRun(jobs) : nil
        report(results, latency: latency, pause: pause, pipeline: costs?.main, pipelineWorkloads: costs?.workloads ?? [], broker: broker.label,
               labelPendingBytes: pendingBytes, pairs: pairs)
    }

    /// The per-record work without Kafka: the default job, then each workload's.
    func pipelineRun(_ jobs: [BenchWorkload]) -> (main: PipelineCost, workloads: [PipelineCost]) {
        func show(_ c: PipelineCost) {
            say(String(format: "per-record work without Kafka (%@, in process): %.0f ns/event (runner %.0f: parse, features, predict, learn, metrics; prediction record %.0f)",
                       c.job as NSString, c.totalNs, c.runnerNs, c.outputNs))
        }
        var stream = SyntheticStream(seed: 42)
        let main = pipelineCost(job: "default spec", config: ClusterConfig(), records: (0..<min(events, 300_000)).map { _ in stream.next() })
        show(main)
        var more: [PipelineCost] = []
        for job in jobs where !Signals.shouldStop {
            do {
                let c = pipelineCost(job: "\(job.name) workload", config: try job.config(examples: examples), records: Array(try job.records().prefix(300_000)))
                show(c)
                more.append(c)
            } catch { say("pipeline, \(job.name) workload: \(error); skipped") }
        }
        return (main, more)
    }

    func line(_ r: RunResult) -> String {
        var s = String(format: "%-34@ %9.0f events/s  (%d events in %.2f s)", r.name as NSString, r.eventsPerSecond, r.events, r.seconds)
        if let c = r.cpuMicrosPerEvent { s += String(format: "  cpu %.2f µs/event", c) }
        if let m = r.peakRSSMiB { s += String(format: "  peak RSS %.0f MiB", m) }
        if let a = r.accuracy { s += String(format: "  accuracy %.4f", a) }
        if let b = r.brokerCpuMicrosPerEvent { s += String(format: "  broker cpu %.2f µs/event", b) }
        return s
    }

    /// Sends a JSON-lines file to `topic`, each line keyed by its field `key`.
    func produceFile(_ file: String, topic: String, bootstrap: String, key: String = "user") {
        let records: [(key: String, value: [UInt8])]
        do { records = try BenchWorkload.records(file: file, key: key) } catch { fail("\(error)") }
        produce(file, topic: topic, bootstrap: bootstrap) { send in
            for r in records { send(Array(r.key.utf8), r.value) }
        }
    }

    func produceEvents(bootstrap: String) {
        var stream = SyntheticStream(seed: 42)
        produce("the benchmark events", topic: "events", bootstrap: bootstrap) { send in
            for _ in 0..<events {
                let ev = stream.next()
                send(Array(ev.key.utf8), ev.value)
            }
        }
    }

    /// Sends what `records` hands to its `send` (key, value), then waits for every delivery.
    func produce(_ what: String, topic: String, bootstrap: String, _ records: (_ send: ([UInt8], [UInt8]) -> Void) -> Void) {
        do {
            let p = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": bootstrap, "linger.ms": "20",
                                                                 "batch.num.messages": "10000"]))
            var i = 0
            records { key, value in
                while true {
                    do throws(KafkaError) { try p.produce(topic: topic, key: key, value: value, tag: i); break } catch {
                        if !error.isQueueFull { fail("\(error)") }
                        p.poll(timeoutMs: 10) { _ in }
                    }
                }
                if i % 1000 == 0 { p.poll(timeoutMs: 0) { _ in } }
                i += 1
            }
            var failed = 0
            let left = p.drain(timeoutMs: 60_000) { if $0.error != nil { failed += 1 } }
            if left > 0 || failed > 0 { fail("could not produce \(what) (\(failed) failed, \(left) undelivered)") }
        } catch { fail("\(error)") }
    }

    /// The limit: librdkafka consuming the same records with no processing at all (through
    /// our thin wrapper: batch consume, no copy), committing every 1,000 records. With
    /// `produce`, also producing one small record per input (linger 20 ms, as the worker).
    func bareConsume(broker: BenchBroker, conf: [String: String], produce: Bool = false) -> RunResult {
        let bootstrap = broker.bootstrap
        do {
            // The worker's consumer defaults too: the limit is measured with the same client.
            var c = KafkaConsumer.withDefaults(KafkaClientConfig(conf))
            c["bootstrap.servers"] = bootstrap
            c["group.id"] = "bench-bare-\(getpid())"
            let consumer = try KafkaConsumer(config: c)
            var pc = KafkaClientConfig(["bootstrap.servers": bootstrap, "linger.ms": "20"])
            for (k, v) in Self.pairs(producerConf) { pc[k] = v }
            let producer = try KafkaProducer(config: pc)
            let value = [UInt8](repeating: 65, count: 150)
            let tps = (0..<partitions).map { TopicPartition("events", Int32($0)) }
            try consumer.assign(tps, start: .beginning)
            var n = 0
            var sinceCommit = 0
            var bytes = 0
            var start: Int64 = 0
            var last: [TopicPartition: Int64] = [:]
            let cpu0 = cpuSeconds(pid: getpid()) ?? 0
            let brokerCpu0 = broker.cpuSeconds()
            while n < events && !Signals.shouldStop {
                if start == 0 { start = Clock.nowMs() }
                sinceCommit += consumer.poll(timeoutMs: 100) { r in
                    n += 1
                    bytes &+= r.value.count
                    last[TopicPartition("events", r.partition)] = r.offset + 1
                    if produce {
                        while (try? producer.produce(topic: "predictions", key: [], value: value, tag: 0)) == nil {
                            producer.poll(timeoutMs: 1) { _ in }
                        }
                    }
                }
                if produce { producer.poll(timeoutMs: 0) { _ in } }
                // Commit every 1,000 records (asynchronously: this is the limit, not a pipeline).
                if sinceCommit >= 1000 { try? consumer.commit(last, async: true); sinceCommit = 0 }
            }
            try? consumer.commit(last)
            // Done when every output is delivered, as a Tributary run is (it commits after delivery).
            if produce { _ = producer.drain(timeoutMs: 60_000) { _ in } }
            let secs = Double(Clock.nowMs() - start) / 1000
            // The client's CPU alone: the mock cluster's thread shares this process.
            let brokerCpu: Double? = broker.cpuSeconds().flatMap { now in brokerCpu0.map { now - $0 } }
            let cpu = (cpuSeconds(pid: getpid()) ?? 0) - cpu0 - (broker.inProcess ? brokerCpu ?? 0 : 0)
            return RunResult(name: produce ? "bare consume + produce" : "bare librdkafka consume", events: n, seconds: secs,
                             eventsPerSecond: Double(n) / secs, cpuMicrosPerEvent: cpu * 1e6 / Double(max(n, 1)),
                             brokerCpuMicrosPerEvent: brokerCpu.map { $0 * 1e6 / Double(max(n, 1)) })
        } catch { fail("\(error)") }
    }

    /// Tributary's full path in real processes: coordinator + workers against the broker.
    /// - challenger: a second model (all features, shadow scoring, no shadow topic) beside the
    ///   champion: what one more model costs (issue 11).
    enum LabelRun { case none, unlabelled, waiting }

    func tributaryRun(broker: BenchBroker, workers: Int, syncMs: Int, conf: [String: String], challenger: Bool = false,
                      labels: LabelRun = .none, served: ServedModel? = nil, reference: Double = 0) -> RunResult {
        let bootstrap = broker.bootstrap
        // The start time too: a repeated run (`--repeat`) must not resume the last one's offsets.
        let group = "bench-\(workers)w-\(syncMs)-\(challenger)-\(labels)-\(served?.name ?? "")-\(reference)-\(getpid())-\(Clock.nowMs())"
        // The mock broker answers no CreateTopics: the feature changelog (one partition per
        // input partition) is made here, as for every other topic of the run.
        do { try broker.createTopic("\(group).features", partitions: partitions) } catch { fail("\(error)") }
        var cfg = """
        [kafka]
        partitions = \(partitions)
        group_id = "\(group)"
        \(served?.topic.map { "input_topic = \"\($0)\"" } ?? "")
        [kafka.consumer]

        """
        for (k, v) in conf { cfg += "\"\(k)\" = \"\(v)\"\n" }
        cfg += "[kafka.producer]\n"
        for (k, v) in Self.pairs(producerConf) { cfg += "\"\(k)\" = \"\(v)\"\n" }
        cfg += """
        [worker]
        max_in_flight = \(maxInFlight)
        [coordinator]
        heartbeat_ms = 100
        failure_timeout_ms = 3000
        [model]
        sync_interval_ms = \(syncMs)
        \(reference > 0 ? "reference_sample = \(reference)" : "")
        \(served?.model ?? "")
        \(served?.features ?? "")
        \(challenger ? "[challengers.shadow]\nlearning_rate = 0.05" : "")
        \(labels == .none ? "" : "[features]\nlabel = \"no_label\"")
        \(labels == .waiting ? "[labels]\ntopic = \"labels-bench\"\nid = \"user\"\nhorizon_s = 1e9" : "")
        """
        let path = NSTemporaryDirectory() + "tributary-bench-\(getpid()).conf"
        do { try cfg.write(toFile: path, atomically: true, encoding: .utf8) } catch { fail("\(error)") }
        let name = "tributary \(workers) worker\(workers > 1 ? "s" : ""), sync \(syncMs > 0 ? "\(syncMs / 1000) s" : "off")\(challenger ? " + challenger" : "")"
            + (reference > 0 ? " + N-vs-1 monitor" : "")
            + (labels == .unlabelled ? ", unlabelled" : labels == .waiting ? ", unlabelled + waiting for labels" : "")
            + (served.map { ", \($0.name)" } ?? "")
        do {
            let log = childLog()
            let coord = try Child("coordinator", ["coordinator", "--config", path, "--bind", "tcp://127.0.0.1:*",
                                                  "--bootstrap", bootstrap], logTo: log)
            // Failures below throw rather than `fail`, which exits at once: the defers stop
            // the children, or they would outlive the bench and skew every later run.
            defer {
                coord.terminate()
                _ = coord.wait(seconds: 10)
            }
            guard let l = coord.firstLine() else { throw BenchFailure("bench: coordinator did not start") }
            let endpoint = String(l.split(separator: " ")[1])
            let ws = try (1...workers).map { try Child("w\($0)", ["worker", "--coordinator", endpoint, "--id", "bench-w\($0)"], logTo: log) }
            defer {
                for w in ws { w.terminate() }
                for w in ws { _ = w.wait(seconds: 20) }
            }
            let brokerCpu0 = broker.cpuSeconds()
            let deadline = Clock.nowMs() + 300_000
            var final: ClusterStatus?
            var seen: Int64 = 0
            // On a terminal, how far the run is (overwritten in place; nothing into a pipe).
            let progress = ProgressLine(total: Int64(events), unit: "events", startedMs: Clock.nowMs())
            let tty = isatty(2) != 0
            var shown = Clock.nowMs()
            while Clock.nowMs() < deadline && !Signals.shouldStop {
                usleep(50_000)
                guard let s = try? fetchStatus(endpoint, timeoutMs: 1000, retries: 1) else { continue }
                seen = s.totalProcessed
                if s.totalProcessed >= Int64(events) && s.workers.count == workers { final = s; break }
                if tty && Clock.nowMs() - shown >= 1000 {
                    shown = Clock.nowMs()
                    FileHandle.standardError.write(Data("\r  \(name): \(progress.text(done: s.totalProcessed, nowMs: shown))   ".utf8))
                }
            }
            if tty { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            guard let s = final else {
                throw BenchFailure("bench: \(name) did not finish: \(seen) of \(events) events processed"
                    + (Signals.shouldStop ? " (stopped)" : " in 300 s (the mock broker keeps about 5 MB a partition: fewer --events, or --broker tansu)"))
            }
            let reports = s.workers.compactMap(\.report)
            let first = reports.map(\.firstRecordWallMs).filter { $0 > 0 }.min() ?? 0
            let last = reports.map(\.lastRecordWallMs).max() ?? 0
            let secs = Double(max(1, last - first)) / 1000
            let cpu = ws.compactMap { cpuSeconds(pid: $0.process.processIdentifier) }.reduce(0, +)
            let rss = ws.compactMap { peakRSSMiB(pid: $0.process.processIdentifier) }.max()
            let brokerCpu: Double? = broker.cpuSeconds().flatMap { now in brokerCpu0.map { now - $0 } }
            return RunResult(name: name, events: Int(s.totalProcessed), seconds: secs,
                             eventsPerSecond: Double(s.totalProcessed) / secs,
                             cpuMicrosPerEvent: cpu * 1e6 / Double(s.totalProcessed), peakRSSMiB: rss, accuracy: s.accuracy,
                             brokerCpuMicrosPerEvent: brokerCpu.map { $0 * 1e6 / Double(s.totalProcessed) })
        } catch { fail("\(error)") }
    }

    func pythonPeer(bootstrap: String, conf: [String: String]) -> RunResult? {
        let dir = URL(fileURLWithPath: peer).standardizedFileURL.path
        guard FileManager.default.fileExists(atPath: dir + "/baseline.py") else {
            say("python peer: \(dir)/baseline.py not found; skipped")
            return nil
        }
        return runPeer("python peer (confluent-kafka + River)", in: dir,
                       ["baseline.py", "--group", "bench-py-\(getpid())", "--max-messages", String(peerEvents), "--bootstrap", bootstrap],
                       conf: conf)
    }

    /// Runs a Python peer (`python3 arguments...` in `dir`, the consumer settings in
    /// KAFKA_CONSUMER_CONF) and reads its `RESULT {json}` line.
    func runPeer(_ name: String, in dir: String, _ arguments: [String], conf: [String: String]) -> RunResult? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3"] + arguments
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        var env = ProcessInfo.processInfo.environment
        // The worker's consumer defaults too (the peers' confluent-kafka wheel carries librdkafka 2.16).
        env["KAFKA_CONSUMER_CONF"] = conf.merging(KafkaConsumer.defaults) { mine, _ in mine }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = childLog() ?? FileHandle(forWritingAtPath: "/dev/null")
        do { try p.run() } catch { say("\(name): \(error)"); return nil }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }),
              let obj = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any],
              let rate = obj["events_per_s"] as? Double, let n = obj["n"] as? Int else {
            say("\(name) failed (is `pip install confluent-kafka river` done?): \(text.suffix(300))")
            return nil
        }
        return RunResult(name: name, events: n, seconds: obj["elapsed_s"] as? Double ?? 0,
                         eventsPerSecond: rate,
                         cpuMicrosPerEvent: (obj["cpu_s"] as? Double).map { $0 * 1e6 / Double(n) },
                         peakRSSMiB: (obj["maxrss_kb"] as? Double).map { $0 / 1024 } ?? (obj["maxrss_kb"] as? Int).map { Double($0) / 1024 },
                         accuracy: obj["accuracy"] as? Double)
    }

    /// Two workloads beside the default, each learnt online by 1 worker and by a Python peer
    /// doing the same work with River (`tools/bench_peer.py`) on the same records: tweets
    /// (hashed unigrams and bigrams in 2^18, examples/tweets) and card payments (per-card
    /// sliding, tumbling and session windows, distinct merchants, a target encoding,
    /// examples/fraud, labels inline).
    func workloads(_ jobs: [BenchWorkload], bootstrap: String, broker: BenchBroker, conf: [String: String]) -> [RunResult] {
        var results: [RunResult] = []
        for job in jobs where !Signals.shouldStop {
            let served: ServedModel
            do { served = try job.served(examples: examples) } catch { say("workloads: \(error); \(job.name) skipped"); continue }
            produceFile(job.file, topic: job.topic, bootstrap: bootstrap, key: job.key)
            let r = tributaryRun(broker: broker, workers: 1, syncMs: 0, conf: conf, served: served)
            results.append(r)
            say(line(r))
            guard !Signals.shouldStop, !tools.isEmpty else { continue }
            let script = URL(fileURLWithPath: tools + "/bench_peer.py").standardizedFileURL.path
            if let py = runPeer("python peer, \(job.name) workload", in: FileManager.default.currentDirectoryPath,
                                [script, "--workload", job.name, "--topic", job.topic, "--group", "bench-py-\(job.name)-\(getpid())",
                                 "--max-messages", String(peerEvents), "--bootstrap", bootstrap], conf: conf) {
                results.append(py)
                say(line(py))
            }
        }
        return results
    }

    /// Percentiles of one latency, from an HDR histogram (microseconds, 3 significant digits).
    struct Percentiles: Codable {
        var p50Ms: Double
        var p99Ms: Double
        var p999Ms: Double
        var maxMs: Double

        init(_ h: Histogram<UInt64>) {
            func ms(_ v: UInt64) -> Double { Double(v) / 1000 }
            p50Ms = ms(h.valueAtPercentile(50))
            p99Ms = ms(h.valueAtPercentile(99))
            p999Ms = ms(h.valueAtPercentile(99.9))
            maxMs = ms(h.max)
        }
    }

    struct Latency: Codable {
        var rate: Double
        var events: Int
        /// The worker's producer linger.ms in this run.
        var workerLingerMs: Int
        var partitions: Int
        /// Event time (stamped at produce) to the prediction readable downstream.
        var endToEnd: Percentiles
        /// Event time to the worker's produce call of its prediction (the prediction record's
        /// Kafka timestamp): input batching, broker, the worker's fetch and its work.
        var toWorker: Percentiles
        /// The worker's produce call to readable downstream: its producer's linger and
        /// delivery, the broker, the reader's fetch.
        var afterWorker: Percentiles
        /// The same rate produced and read back with no worker between: the broker's share.
        var kafkaAlone: Percentiles?
        /// The largest end-to-end latency in the warm-up (2 s at the same rate, drained before
        /// the measured 7.5 s: the consumers' first fetches after assignment), not counted above.
        var warmupMaxMs: Double
    }

    /// Wall clock in microseconds (the event timestamps the latency run writes).
    static func wallMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// End-to-end latency at a fixed input rate: events stamped with the wall clock when
    /// produced; a concurrent reader of the predictions takes the time each becomes readable
    /// (event time -> prediction delivered and fetched downstream: conservative). The
    /// prediction's own Kafka timestamp (set by the worker's producer) splits the path in two.
    /// `bare`: no worker; the reader reads the input itself, so the figure is the Kafka round
    /// trip alone (produce at the rate → readable), the floor under the run with a worker.
    func latencyRun(broker: BenchBroker, conf: [String: String], rate: Double, bare: Bool = false) -> Latency? {
        let bootstrap = broker.bootstrap
        let inTopic = bare ? "events-bare-latency" : "events-latency"
        let outTopic = bare ? inTopic : "predictions-latency"
        let seconds = 7.5
        let warmupMs = 2000.0
        var stopChildren: () -> Void = {}
        defer { stopChildren() }
        do {
            if !bare {
                try broker.createTopic("bench-latency-\(getpid()).features", partitions: latencyPartitions)
                let path = NSTemporaryDirectory() + "tributary-bench-latency-\(getpid()).conf"
                var cfg = "[kafka]\npartitions = \(latencyPartitions)\ninput_topic = \"events-latency\"\noutput_topic = \"\(outTopic)\"\n"
                cfg += "group_id = \"bench-latency-\(getpid())\"\n[kafka.consumer]\n"
                for (k, v) in conf { cfg += "\"\(k)\" = \"\(v)\"\n" }
                cfg += "[kafka.producer]\n\"linger.ms\" = \"\(latencyLingerMs)\"\n"
                try cfg.write(toFile: path, atomically: true, encoding: .utf8)
                let log = childLog()
                let coord = try Child("coordinator", ["coordinator", "--config", path, "--bind", "tcp://127.0.0.1:*", "--bootstrap", bootstrap], logTo: log)
                stopChildren = { coord.terminate(); _ = coord.wait(seconds: 10) }
                guard let l = coord.firstLine() else { return nil }
                let endpoint = String(l.split(separator: " ")[1])
                let w = try Child("w", ["worker", "--coordinator", endpoint, "--id", "bench-latency"], logTo: log)
                stopChildren = { w.terminate(); _ = w.wait(seconds: 20); coord.terminate(); _ = coord.wait(seconds: 10) }
                // Ready: the worker owns every partition.
                let ready = Clock.nowMs() + 20_000
                while Clock.nowMs() < ready {
                    if let s = try? fetchStatus(endpoint, timeoutMs: 500, retries: 1), s.unassigned.isEmpty, s.workers.count == 1 { break }
                    usleep(100_000)
                }
            }
            var rc = KafkaConsumer.withDefaults(KafkaClientConfig(conf))
            rc["bootstrap.servers"] = bootstrap
            rc["group.id"] = "bench-latency-reader-\(getpid())"
            let reader = try KafkaConsumer(config: rc)
            let n = try reader.partitionCount(topic: outTopic)
            try reader.assign((0..<n).map { TopicPartition(outTopic, Int32($0)) }, start: .end)
            let producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": bootstrap, "linger.ms": "5"]))
            var stream = SyntheticStream(seed: 7)
            // Microseconds, up to a minute, 3 significant digits.
            func histogram() -> Histogram<UInt64> { Histogram(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three) }
            var endToEnd = histogram(), toWorker = histogram(), afterWorker = histogram()
            var warmupMax: Int64 = 0
            var trace = ""
            var seen = 0, sent = 0
            // Events stamped at or after this are measured; earlier ones are the warm-up.
            var measuredFrom = Int64.max
            let wallStart = Self.wallMicros()
            func read() {
                reader.poll(timeoutMs: 1) { r in
                    let now = Self.wallMicros()
                    // The prediction carries the input's "ts" (seconds).
                    guard let ts = Self.eventTime(r.value) else { return }
                    seen += 1
                    let total = max(0, now - ts)
                    guard ts >= measuredFrom else { warmupMax = max(warmupMax, total); return }
                    _ = endToEnd.record(UInt64(total))
                    if r.timestampMs > 0 && !bare {
                        let produced = r.timestampMs * 1000
                        _ = toWorker.record(UInt64(max(0, produced - ts)))
                        _ = afterWorker.record(UInt64(max(0, now - produced)))
                        if latencyTrace != nil {
                            trace += "\(Double(ts - wallStart) / 1000) \(Double(total) / 1000) \(Double(produced - ts) / 1000)\n"
                        }
                    }
                }
            }
            /// Produces at `rate` for `ms` while reading, then reads until every prediction of
            /// what was sent is in (or 15 s pass).
            func phase(ms: Double) {
                let start = Clock.nowMs(), n = Int(rate * ms / 1000), first = sent
                while sent - first < n && !Signals.shouldStop {
                    let due = Int(Double(Clock.nowMs() - start) / 1000 * rate)
                    while sent - first < min(due, n) {
                        let ev = stream.next(timestamp: Double(Self.wallMicros()) / 1e6)
                        try? producer.produce(topic: inTopic, key: Array(ev.key.utf8), value: ev.value, tag: sent)
                        sent += 1
                    }
                    producer.poll(timeoutMs: 0) { _ in }
                    read()
                }
                let deadline = Clock.nowMs() + 15_000
                while seen < sent && Clock.nowMs() < deadline && !Signals.shouldStop {
                    producer.poll(timeoutMs: 0) { _ in }
                    read()
                }
            }
            // Warm-up: the worker's and the reader's first fetches after assignment, at the
            // same rate; drained before the measured phase starts, so its backlog is not counted.
            phase(ms: warmupMs)
            measuredFrom = Self.wallMicros()
            phase(ms: seconds * 1000)
            if let latencyTrace { try? trace.write(toFile: latencyTrace, atomically: true, encoding: .utf8) }
            guard endToEnd.totalCount > 0 else { return nil }
            let lat = Latency(rate: rate, events: Int(endToEnd.totalCount), workerLingerMs: latencyLingerMs, partitions: latencyPartitions,
                              endToEnd: Percentiles(endToEnd), toWorker: Percentiles(toWorker),
                              afterWorker: Percentiles(afterWorker), warmupMaxMs: Double(warmupMax) / 1000)
            func show(_ p: Percentiles) -> String {
                String(format: "p50 %.1f ms  p99 %.1f ms  p99.9 %.1f ms  max %.1f ms", p.p50Ms, p.p99Ms, p.p999Ms, p.maxMs)
            }
            if bare {
                say(String(format: "Kafka alone at %.0f events/s (produce -> readable, no worker; %d events): ", lat.rate, lat.events) + show(lat.endToEnd))
                return lat
            }
            say(String(format: "latency at %.0f events/s, %d partitions, worker linger.ms %d (%d events after a 2 s warm-up; warm-up max %.0f ms):",
                       lat.rate, latencyPartitions, latencyLingerMs, lat.events, lat.warmupMaxMs))
            say("  end to end:                 " + show(lat.endToEnd))
            say("  event -> worker produces:   " + show(lat.toWorker))
            say("  worker produces -> read:    " + show(lat.afterWorker))
            return lat
        } catch {
            say("latency run failed: \(error)")
            return nil
        }
    }

    /// The `"ts":` field of a prediction, in microseconds.
    static func eventTime(_ value: UnsafeRawBufferPointer) -> Int64? {
        let text = String(decoding: value, as: UTF8.self)
        guard let range = text.range(of: "\"ts\":"),
              let ts = Double(text[range.upperBound...].drop { $0 == " " }.prefix { $0 != "}" && $0 != "," }) else { return nil }
        return Int64((ts * 1e6).rounded())
    }

    struct SyncPause: Codable {
        var weights: Int
        var workerDeltaMs: Double
        var coordinatorMergeMs: Double
        var workerRebaseMs: Double
    }

    /// The stall a sync round puts on the loops for a dense model: the worker makes and
    /// encodes its delta, the coordinator decodes and merges (per worker), the worker
    /// decodes and rebases. Measured on the real code paths (SyncState, WireCodec,
    /// ModelAveraging), in process.
    func syncPause(weights n: Int) -> SyncPause {
        func ms(_ body: () -> Void) -> Double {
            let t = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
        var local = (0..<n).map { Double($0 % 97) * 1e-3 }
        var sync = SyncState(version: 0, base: [Double](repeating: 0, count: n))
        sync.samples = 1000
        var frames: [[UInt8]] = []
        let t1 = ms {
            let d = sync.makeDelta(current: local, worker: "w")!
            frames = WireCodec.encode(.modelDelta(d))
        }
        var merged: [Double] = []
        let t2 = ms {
            guard case .modelDelta(let d)? = try? WireCodec.decode(frames[...]) else { return }
            merged = ModelAveraging.merge(global: [Double](repeating: 0, count: n), deltas: [d.parameterDelta])
            frames = WireCodec.encode(.modelUpdate(ModelUpdate(version: 1, contributions: ["w": d.seq], parameters: merged)))
        }
        let t3 = ms {
            guard case .modelUpdate(let u)? = try? WireCodec.decode(frames[...]) else { return }
            local = sync.rebase(current: local, onto: u, me: "w")
        }
        return SyncPause(weights: n, workerDeltaMs: t1, coordinatorMergeMs: t2, workerRebaseMs: t3)
    }

    /// Resident memory per waiting prediction: 200,000 of them (8 dense features and one
    /// output, ids "e<i>") in one join, by the growth of the process's RSS.
    static func labelPendingBytes() -> Double {
        func rss() -> Int {
            let text = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
            return (text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
        }
        let n = 200_000
        let ids = (0..<n).map { "e\($0)" }
        let dense = (0..<8).map(Double.init)
        var j = LabelJoin<LabelSnapshot>(settings: .init(horizon: 1e12, maxPending: n))
        let before = rss()
        for i in 0..<n {
            _ = j.served(id: ids[i], time: Double(i), snapshot: LabelSnapshot(dense: dense, sparseIndices: [], sparseValues: [],
                                                                              outputs: [[0.5]], served: 0, modelVersion: 1))
        }
        let grown = Double(rss() - before) / Double(n)
        withExtendedLifetime(j) {}
        return grown
    }

    func report(_ results: [RunResult], latency: Latency? = nil, pause: SyncPause? = nil, pipeline: PipelineCost? = nil,
                pipelineWorkloads: [PipelineCost] = [], broker: String? = nil,
                labelPendingBytes: Double? = nil, pairs: [(io: RunResult, ours: RunResult)] = []) {
        func rate(_ prefix: String) -> Double? {
            results.first { $0.name == prefix }?.eventsPerSecond ?? results.first { $0.name.hasPrefix(prefix) }?.eventsPerSecond
        }
        var ratios: [String: Double] = [:]
        // The default job's run by its exact name (the workloads' runs share its prefix).
        if let t = results.first(where: { $0.name == "tributary 1 worker, sync off" })?.eventsPerSecond {
            if let py = rate("python peer (") { ratios["tributary_1w_over_python"] = t / py }
            if let bare = rate("bare librdkafka") { ratios["tributary_1w_over_bare_librdkafka"] = t / bare }
            if let io = rate("bare consume + produce") { ratios["tributary_1w_over_bare_consume_produce"] = t / io }
            if let synced = rate("tributary 1 worker, sync 1 s") { ratios["sync_1s_cost_fraction"] = 1 - synced / t }
            if let two = rate("tributary 2 workers") { ratios["scaling_2w_over_1w"] = two / t }
            if let plain = rate("tributary 1 worker, sync off, unlabelled"), let waiting = rate("tributary 1 worker, sync off, unlabelled + waiting") {
                ratios["label_snapshot_cost_fraction"] = 1 - waiting / plain
            }
            if let text = rate("tributary 1 worker, sync off, pre-trained hashed-text logistic") { ratios["pretrained_text_over_default"] = text / t }
            if let forest = rate("tributary 1 worker, sync off, pre-trained 100-tree forest") { ratios["pretrained_forest_over_default"] = forest / t }
            if let synced = rate("tributary 1 worker, sync 1 s"), let both = rate("tributary 1 worker, sync 1 s + challenger") {
                ratios["challenger_cost_fraction"] = 1 - both / synced
            }
            if let synced = rate("tributary 1 worker, sync 1 s"), let monitored = rate("tributary 1 worker, sync 1 s + N-vs-1 monitor") {
                ratios["reference_monitor_cost_fraction"] = 1 - monitored / synced
            }
        }
        if let io = pairs.first?.io, let ours = pairs.first?.ours, let a = ours.cpuMicrosPerEvent, let b = io.cpuMicrosPerEvent, b > 0 {
            ratios["cpu_1w_over_bare_consume_produce"] = a / b
        }
        if pairs.count > 1 {
            func median(_ xs: [Double]) -> Double {
                let s = xs.sorted()
                return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            }
            let speed = pairs.map { $0.ours.eventsPerSecond / $0.io.eventsPerSecond }
            let cpu = pairs.compactMap { p in p.ours.cpuMicrosPerEvent.flatMap { a in p.io.cpuMicrosPerEvent.map { a / $0 } } }
            ratios["tributary_1w_over_bare_consume_produce_median"] = median(speed)
            if !cpu.isEmpty { ratios["cpu_1w_over_bare_consume_produce_median"] = median(cpu) }
            say(String(format: "%d pairs (no-work consume + produce, then 1 worker): throughput ratio %.3f-%.3f, median %.3f; CPU ratio %.2f-%.2f, median %.2f",
                       pairs.count, speed.min()!, speed.max()!, median(speed), cpu.min() ?? 0, cpu.max() ?? 0, cpu.isEmpty ? 0 : median(cpu)))
        }
        for w in ["text", "fraud"] {
            let ours = results.first { $0.name == "tributary 1 worker, sync off, \(w) workload" }
            let py = results.first { $0.name == "python peer, \(w) workload" }
            if let ours, let py {
                ratios["\(w)_workload_over_python"] = ours.eventsPerSecond / py.eventsPerSecond
                if let a = ours.cpuMicrosPerEvent, let b = py.cpuMicrosPerEvent { ratios["\(w)_workload_python_cpu_over_ours"] = b / a }
            }
        }
        say("\nratios (same run, same broker, same records):")
        for (k, v) in ratios.sorted(by: { $0.key < $1.key }) { say(String(format: "  %-36@ %.3f", k as NSString, v)) }
        struct Out: Codable { var results: [RunResult]; var ratios: [String: Double]; var cores: Int
                              var latency: Latency?; var syncPause: SyncPause?; var pipeline: PipelineCost?
                              var pipelineWorkloads: [PipelineCost]; var broker: String?
                              var labelPendingBytes: Double? }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        if let data = try? enc.encode(Out(results: results, ratios: ratios, cores: ProcessInfo.processInfo.activeProcessorCount,
                                          latency: latency, syncPause: pause, pipeline: pipeline, pipelineWorkloads: pipelineWorkloads, broker: broker,
                                          labelPendingBytes: labelPendingBytes)) {
            say("RESULT " + String(decoding: data, as: UTF8.self))
            if let output { try? data.write(to: URL(fileURLWithPath: output)) }
        }
    }
}
