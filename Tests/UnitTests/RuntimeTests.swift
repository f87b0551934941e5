import Foundation
import Logging
import Prometheus
import Testing
@testable import Runtime

/// The process shells' shared parts that need no sockets: log line formats and the scrape
/// publisher's Prometheus semantics.
@Suite("Runtime")
struct RuntimeTests {
    @Test("progress lines: done of total, percentage, rate and time left; without a total, done and rate")
    func progressLines() {
        let p = ProgressLine(total: 300_000, unit: "records", startedMs: 10_000)
        #expect(p.text(done: 120_000, nowMs: 12_000) == "120,000/300,000 records (40 %), 60,000/s, 3 s left")
        #expect(p.text(done: 300_000, nowMs: 15_000) == "300,000/300,000 records (100 %), 60,000/s")
        #expect(ProgressLine(total: 10_000_000, unit: "events", startedMs: 0).text(done: 1000, nowMs: 1000)
                == "1,000/10,000,000 events (0 %), 1,000/s, 2 h 46 min left")
        #expect(ProgressLine(total: 0, unit: "events", startedMs: 0).text(done: 42, nowMs: 2000) == "42 events, 21/s")
    }

    @Test("process metrics read from /proc, and the build's version")
    func processStats() {
        let s = ProcessStats.read()
        #expect(s.residentBytes > 1_000_000 && s.virtualBytes >= s.residentBytes && s.cpuSeconds > 0)
        #expect(s.openFDs >= 3 && s.maxFDs >= s.openFDs && s.startTimeSeconds > 1_700_000_000)
        #expect(BuildInfo.version.split(separator: ".").count == 3)
    }

    @Test("log lines: text for people, one JSON object per line for collectors, metadata in both")
    func logFormats() throws {
        let ts = Date(timeIntervalSince1970: 1_795_536_766.5)
        let text = LineLogHandler.format(.text, ts: ts, level: .warning, label: "worker w1",
                                         message: "partition 3: fenced", metadata: ["partition": "3", "epoch": "7"])
        #expect(text == "2026-11-24T16:12:46.500 warning worker w1: partition 3: fenced epoch=7 partition=3\n")
        let json = LineLogHandler.format(.json, ts: ts, level: .info, label: "coordinator",
                                         message: "quote \" backslash \\ newline \n tab \t", metadata: ["k": "v"])
        #expect(json.hasSuffix("\n"))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String])
        #expect(obj == ["ts": "2026-11-24T16:12:46.500", "level": "info", "label": "coordinator",
                        "message": "quote \" backslash \\ newline \n tab \t", "k": "v"])
    }

    @Test("scrape publisher: counters advance by what their totals grew, gauges are set, series gone from a scrape are removed")
    func scrapePublisher() {
        let registry = PrometheusCollectorRegistry()
        let p = ScrapePublisher(registry: registry)
        p.add("t_records_total", .counter, "Records.", 5)
        p.add("t_lag", .gauge, "Lag.", 12, [("partition", "0")])
        p.add("t_lag", .gauge, "Lag.", 3, [("partition", "1")])
        var text = p.finish()
        #expect(text.contains("# HELP t_records_total Records.\n# TYPE t_records_total counter\nt_records_total 5\n"))
        #expect(text.contains("t_lag{partition=\"0\"} 12"))
        #expect(text.contains("t_lag{partition=\"1\"} 3"))
        // Next scrape: the total grew to 9, partition 1 moved away.
        p.add("t_records_total", .counter, "Records.", 9)
        p.add("t_lag", .gauge, "Lag.", 0, [("partition", "0")])
        text = p.finish()
        #expect(text.contains("t_records_total 9\n"))
        #expect(text.contains("t_lag{partition=\"0\"} 0"))
        #expect(!text.contains("partition=\"1\""))
        // A total that went down (a counter the process reset) starts its series afresh.
        p.add("t_records_total", .counter, "Records.", 2)
        p.add("t_lag", .gauge, "Lag.", 1, [("partition", "0")])
        text = p.finish()
        #expect(text.contains("t_records_total 2\n"))
    }
}
