import ArgumentParser
import Features
import Foundation
import Kafka
import Runtime

struct Produce: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write synthetic labelled events (or a JSON-lines file) to the input topic.")
    @Option(help: "Kafka bootstrap servers.") var bootstrap: String?
    @Option(help: "Ask this coordinator for the bootstrap and topic instead (default without --bootstrap: $TRIBUTARY_COORDINATOR).")
    var coordinator: String?
    @Option(help: "Topic (default: the cluster's input topic, else \"events\").") var topic: String?
    @Option(help: "Number of events.") var count: Int = 10_000
    @Option(help: "Events per second (0 = as fast as possible).") var rate: Double = 0
    @Option(help: "Distinct users (keys).") var users: Int = 1000
    @Option(help: "Random seed.") var seed: UInt64 = 42
    @Option(help: "Event time of the first event, in events of the synthetic 1 ms clock (to continue an earlier run's stream: its --count).")
    var startIndex: Int = 0
    @Option(help: "Fraction of malformed events to mix in (0...1), for dead-letter demos.") var malformed: Double = 0
    @Option(help: "Send this JSON-lines file instead (one event per line; - = standard input, as kcat -P reads it), each record keyed by its --key-field.")
    var file: String?
    @Option(help: "With --file: the dotted path of the field records are keyed by (default: the cluster's features.key with --coordinator, else \"user\"). Per-key feature state assumes input keyed by it.")
    var keyField: String?
    @OptionGroup var security: CurveOptions

    func run() throws {
        Signals.installStopHandlers()
        guard (0...1).contains(malformed) else { fail("--malformed must be between 0 and 1, got \(malformed)") }
        guard count >= 0, rate >= 0, users > 0, startIndex >= 0 else { fail("--count, --rate, --start-index must be >= 0 and --users > 0") }
        var servers = bootstrap
        var target = topic
        var keyPath = keyField
        if servers == nil, let coordinator = coordinator ?? environmentCoordinator() {
            do {
                let s = try fetchStatus(coordinator, curve: security.client())
                servers = s.bootstrap
                if target == nil { target = s.inputTopic }
                if keyPath == nil { keyPath = s.keyField }
            } catch { fail(error.description) }
        }
        guard let servers else { fail("give --bootstrap HOST:PORT or --coordinator tcp://HOST:PORT") }
        let topicName = target ?? "events"
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(config: KafkaClientConfig(["bootstrap.servers": servers, "linger.ms": "10"]))
        } catch { fail("\(error)") }

        var failures = 0
        var delivered = 0
        let onReport: (DeliveryReport) -> Void = { dr in
            if let e = dr.error { failures += 1; if failures <= 5 { FileHandle.standardError.write(Data("delivery failed: \(e)\n".utf8)) } }
            else { delivered += 1 }
        }
        func send(_ key: [UInt8], _ value: [UInt8], _ tag: Int) {
            while true {
                do { try producer.produce(topic: topicName, key: key, value: value, tag: tag); return } catch {
                    if !error.isQueueFull { fail("produce to \(topicName): \(error)") }
                    producer.poll(timeoutMs: 10, onReport)
                }
            }
        }
        let start = Clock.nowMs()
        var lastProgress = start
        let tty = isatty(2) != 0
        var sent = 0
        // The total: the synthetic count, or a file's lines (unknown for standard input).
        var total = Int64(count)
        func pace() {
            producer.poll(timeoutMs: 0, onReport)
            if rate > 0 {
                let due = start + Int64(Double(sent) * 1000 / rate)
                let now = Clock.nowMs()
                if due > now { usleep(UInt32(min(due - now, 100)) * 1000) }
            }
            let now = Clock.nowMs()
            if tty && now - lastProgress >= 1000 {
                lastProgress = now
                let line = ProgressLine(total: total, unit: "events", startedMs: start).text(done: Int64(sent), nowMs: now)
                FileHandle.standardError.write(Data("\rproduced \(line) (\(delivered) delivered)   ".utf8))
            }
        }
        if let file {
            let field = keyPath ?? "user"
            let keys = EventParser(keyPath: field, timestampPath: "", labelPath: "", numericPaths: [])
            var event = keys.makeEvent()
            var unkeyed = 0
            func line(_ line: Substring) {
                guard !line.isEmpty else { return }
                let bytes = Array(line.utf8)
                // A line without the key field (or not JSON) still goes, unkeyed: the worker
                // dead-letters it with the reason.
                let key: [UInt8]
                do { try keys.parse(bytes, into: &event); key = Array(event.key.utf8) } catch { key = []; unkeyed += 1 }
                send(key, bytes, sent)
                sent += 1
                pace()
            }
            if file == "-" {
                // Line by line as they come (a pipe that stays open keeps producing).
                total = 0
                while !Signals.shouldStop, let l = readLine(strippingNewline: true) { line(Substring(l)) }
            } else {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { fail("cannot read \(file)") }
                let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
                total = Int64(lines.count)
                for l in lines where !Signals.shouldStop { line(l) }
            }
            if unkeyed > 0 { FileHandle.standardError.write(Data("\(unkeyed) lines without a usable '\(field)' field were sent unkeyed\n".utf8)) }
        } else {
            var stream = SyntheticStream(seed: seed, users: users)
            stream.index = startIndex
            var coin = SplitMix64(seed: seed ^ 0xBAD)
            while sent < count && !Signals.shouldStop {
                let ev = malformed > 0 && coin.nextDouble() < malformed ? stream.malformed() : stream.next()
                send(Array(ev.key.utf8), ev.value, sent)
                sent += 1
                pace()
            }
        }
        let left = producer.drain(timeoutMs: 30_000, onReport)
        let secs = Double(max(1, Clock.nowMs() - start)) / 1000
        if tty { FileHandle.standardError.write(Data("\r".utf8)) }
        say("produced \(sent) events to \(topicName) in \(String(format: "%.1f", secs)) s (\(String(format: "%.0f", Double(sent) / secs))/s); delivered \(delivered), failed \(failures), undelivered \(left)")
        if failures > 0 || left > 0 { throw ExitCode(1) }
    }
}
