import Foundation
import Testing

/// Issue 27's picture: `tributary report` draws the coordinator's retained quality history.
@Suite("Quality report", .serialized)
struct ReportTests {
    @Test("tributary report: an SVG of the quality over time from a live cluster with a champion and a challenger: well-formed, two panels (accuracy, log loss) with both axes and ticks, one line per model in each, a legend naming both")
    func report() throws {
        let cluster = try Cluster.start(config: """
        [kafka]
        partitions = 2
        [coordinator]
        history_interval_ms = 200
        [features]
        aggregates = []
        [model]
        sync_interval_ms = 200
        name = "narrow"
        features = ["x.f0"]
        [challengers.wide]
        """)
        let w = try cluster.worker("rw")
        try cluster.waitFor(seconds: 20, "the worker owns both partitions") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        let gen = try Proc("produce", ["produce", "--coordinator", cluster.endpoint, "--count", "6000", "--rate", "2000"])
        #expect(gen.wait(seconds: 60) == 0)
        try cluster.waitCommitted(try highWatermarks(bootstrap: cluster.bootstrap, topic: "events"))
        usleep(500_000)

        let path = NSTemporaryDirectory() + "quality-\(UUID().uuidString.prefix(8)).svg"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try Proc("report", ["report", "--coordinator", cluster.endpoint, "--output", path])
        let said = r.remainingOutput()
        #expect(r.wait(seconds: 20) == 0, "\(said) \(r.log)")
        let samples = Int(said.split(separator: " ").dropFirst(2).first ?? "") ?? 0
        #expect(samples >= 5 && said.contains("models narrow, wide") && said.contains("figures accuracy, log_loss"), "\(said)")
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        // Well-formed XML (what a browser or an image converter needs).
        #expect(sh("python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' '\(path)'") == 0)
        func count(_ s: String) -> Int { svg.components(separatedBy: s).count - 1 }
        #expect(count(#"class="panel""#) == 2 && svg.contains(#"data-figure="accuracy""#) && svg.contains(#"data-figure="log_loss""#))
        #expect(count(#"data-axis="x""#) == 2 && count(#"data-axis="y""#) == 2 && count(#"class="tick""#) == 20)
        #expect(count(#"data-model="narrow""#) == 2 && count(#"data-model="wide""#) == 2, "one line per model per panel")
        #expect(count(#"class="legend""#) == 2 && svg.contains(">narrow</text>") && svg.contains(">wide</text>"))
        // Each line has a point per sample.
        let line = try #require(svg.range(of: #"data-model="wide""#).map { svg[$0.upperBound...] })
        let points = line.range(of: #"points=""#).map { line[$0.upperBound...].prefix { $0 != "\"" } } ?? ""
        #expect(points.split(separator: " ").count == samples, "\(points.prefix(200))")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}
