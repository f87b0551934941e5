import CoreMetrics
import Prometheus

/// The process's metrics, in one swift-prometheus registry that is also swift-metrics'
/// backend. Two kinds of figures go into it:
/// - events counted where they happen, through the swift-metrics API (`Timer` for record
///   latency), by any module;
/// - figures the loop already keeps in its own state (offsets, lag, totals in the worker's
///   report, membership), published at scrape time by a `ScrapePublisher`. Keeping those in
///   the loop's plain values and copying them per scrape costs nothing per record and needs
///   no lock on the hot path.
public enum ProcessMetrics {
    public static let registry = PrometheusCollectorRegistry()

    /// Makes `registry` the swift-metrics backend; once per process.
    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Record latency spans a millisecond (one worker, idle broker) to seconds (backlog).
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20),
            .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(500), .seconds(1),
            .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        MetricsSystem.bootstrap(factory)
    }
}
