import CoreMetrics
import Prometheus

/// Publishes values read off a process's state into the registry at scrape time: a gauge is
/// set; a counter is advanced by what its total grew since the last scrape (a total that went
/// down starts the series afresh); a labelled series not published in this scrape (a
/// partition that moved away, a worker forgotten) is removed.
public final class ScrapePublisher {
    struct Key: Hashable {
        let name: String
        let labels: [String]
    }
    let registry: PrometheusCollectorRegistry
    private var counters: [Key: (counter: Prometheus.Counter, total: Double)] = [:]
    private var gauges: [Key: Prometheus.Gauge] = [:]
    private var seen = Set<Key>()

    public init(registry: PrometheusCollectorRegistry = ProcessMetrics.registry) {
        self.registry = registry
    }

    public enum Kind: Sendable { case counter, gauge }

    /// One value of this scrape. `help` must be the same for every series of a name.
    public func add(_ name: String, _ kind: Kind, _ help: String, _ value: Double, _ labels: [(String, String)] = []) {
        let key = Key(name: name, labels: labels.flatMap { [$0.0, $0.1] })
        seen.insert(key)
        switch kind {
        case .gauge:
            let g = gauges[key] ?? registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
            gauges[key] = g
            g.set(value.isFinite ? value : .nan)
        case .counter:
            guard value.isFinite else { return }
            if let (c, total) = counters[key], value >= total {
                if value > total { Self.advance(c, by: value - total) }
                counters[key] = (c, value)
            } else {
                if let old = counters[key] { registry.unregisterCounter(old.counter) }
                let c = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
                if value > 0 { Self.advance(c, by: value) }
                counters[key] = (c, value)
            }
        }
    }

    /// `tributary_build_info` and the standard `process_*` metrics (as the Prometheus client
    /// libraries export them: CPU, memory, open files, start time), read from /proc.
    public func addProcess() {
        add("tributary_build_info", .gauge, "Always 1; the build's version in a label.", 1, [("version", BuildInfo.version)])
        let p = ProcessStats.read()
        add("process_cpu_seconds_total", .counter, "Total user and system CPU time spent in seconds.", p.cpuSeconds)
        add("process_resident_memory_bytes", .gauge, "Resident memory size in bytes.", p.residentBytes)
        add("process_virtual_memory_bytes", .gauge, "Virtual memory size in bytes.", p.virtualBytes)
        add("process_start_time_seconds", .gauge, "Start time of the process since unix epoch in seconds.", p.startTimeSeconds)
        add("process_open_fds", .gauge, "Number of open file descriptors.", p.openFDs)
        add("process_max_fds", .gauge, "Maximum number of open file descriptors.", p.maxFDs)
    }

    /// Whole numbers stay integers in the exposition (`5`, not `5.0`).
    static func advance(_ c: Prometheus.Counter, by d: Double) {
        if d == d.rounded(), d < 9e15 { c.increment(by: Int64(d)) } else { c.increment(by: d) }
    }

    /// The registry in Prometheus text format (0.0.4), after removing series not published
    /// since the last call.
    public func finish() -> String {
        for (key, g) in gauges where !seen.contains(key) {
            registry.unregisterGauge(g)
            gauges[key] = nil
        }
        for (key, c) in counters where !seen.contains(key) {
            registry.unregisterCounter(c.counter)
            counters[key] = nil
        }
        seen.removeAll(keepingCapacity: true)
        return registry.emitToString()
    }
}
