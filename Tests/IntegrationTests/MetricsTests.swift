import Foundation
import Testing
import Runtime

/// `GET` over a real TCP connection (`http://HOST:PORT/path`); returns the body of a 200.
func httpGet(_ url: String) throws -> String {
    let rest = url.dropFirst("http://".count)
    let hostPort = rest.split(separator: "/", maxSplits: 1)[0]
    let path = "/" + (rest.split(separator: "/", maxSplits: 1).dropFirst().first ?? "")
    guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]) else {
        throw HarnessError("bad URL \(url)")
    }
    let host = hostPort[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
    let r = try httpRequest(host: host, port: port, path: path)
    guard r.status == 200 else { throw HarnessError("\(url): HTTP \(r.status): \(r.body.prefix(200))") }
    return r.body
}

/// Parses Prometheus text format 0.0.4 strictly enough to catch a malformed exposition:
/// every sample line is `name{label="v",...} value`, and its metric has a TYPE line before it.
func parsePrometheus(_ text: String) throws -> [String: Double] {
    var types = Set<String>()
    var samples: [String: Double] = [:]
    for line in text.split(separator: "\n") {
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])) else {
                throw HarnessError("bad TYPE line: \(line)")
            }
            types.insert(String(parts[2]))
            continue
        }
        if line.hasPrefix("#") { continue }
        guard let space = line.lastIndex(of: " ") else { throw HarnessError("bad sample: \(line)") }
        let series = String(line[..<space])
        guard let value = Double(line[line.index(after: space)...]) else { throw HarnessError("bad value: \(line)") }
        let name = String(series.prefix { $0 != "{" })
        // A histogram's samples are its name with _bucket, _sum or _count.
        let family = ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) && types.contains(String(name.dropLast($0.count))) }
            .map { String(name.dropLast($0.count)) } ?? name
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }), types.contains(family) else {
            throw HarnessError("sample of an undeclared or badly named metric: \(line)")
        }
        if series.contains("{") {
            guard series.hasSuffix("}"), series.contains("=\"") else { throw HarnessError("bad labels: \(line)") }
        }
        samples[series] = value
    }
    return samples
}

@Suite("Prometheus metrics", .serialized)
struct MetricsTests {
    @Test("/metrics of coordinator and worker scraped and parsed during a run; lag drains to 0")
    func scrape() throws {
        let cluster = try Cluster.start(config: "[coordinator]\nmetrics_bind = \"127.0.0.1:0\"")
        let coordURL = try #require(cluster.coordinatorLine.split(separator: " ").last.map(String.init))
        #expect(coordURL.hasPrefix("http://127.0.0.1:"))
        let w = try Proc("mw", ["worker", "--coordinator", cluster.endpoint, "--id", "mw", "--metrics", "127.0.0.1:0"])
        try cluster.waitFor(seconds: 20, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        var workerURL = ""
        for _ in 0..<50 where workerURL.isEmpty {
            if let r = w.log.range(of: "http://[0-9.:]+/metrics", options: .regularExpression) { workerURL = String(w.log[r]) }
            usleep(100_000)
        }
        #expect(!workerURL.isEmpty, "worker did not announce its metrics endpoint: \(w.log)")

        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "6000", "--rate", "3000"])
        // Scraped while the generator still runs (it takes 2 s; a slow start, as under a
        // sanitizer, only delays the first count).
        var during: [String: Double] = [:]
        let scrapeUntil = Date().addingTimeInterval(20)
        repeat {
            usleep(250_000)
            during = try parsePrometheus(try httpGet(workerURL))
        } while (during["tributary_records_in_total"] ?? 0) == 0 && gen.process.isRunning && Date() < scrapeUntil
        #expect((during["tributary_records_in_total"] ?? 0) > 0, "records are counted during the run")
        #expect(gen.wait(seconds: 60) == 0)

        // When the stream stops, lag drains to 0 on every partition and every record is counted.
        var after: [String: Double] = [:]
        let deadline = Date().addingTimeInterval(20)
        repeat {
            after = try parsePrometheus(try httpGet(workerURL))
            let lags = after.filter { $0.key.hasPrefix("tributary_partition_lag{") }
            if lags.count == 4 && lags.values.allSatisfy({ $0 == 0 }) && after["tributary_records_in_total"] == 6000 { break }
            usleep(250_000)
        } while Date() < deadline
        #expect(after.filter { $0.key.hasPrefix("tributary_partition_lag{") }.count == 4)
        #expect(after.filter { $0.key.hasPrefix("tributary_partition_lag{") }.values.allSatisfy { $0 == 0 }, "\(after)")
        #expect(after["tributary_records_in_total"] == 6000)
        #expect(after["tributary_predictions_total"] == 6000)
        // One series per model, metric and scope (champion and challengers side by side).
        let accuracy = after.first { $0.key.hasPrefix("tributary_progressive_metric{") && $0.key.contains("metric=\"accuracy\"")
            && $0.key.contains("scope=\"run\"") }
        #expect((accuracy?.value ?? 0) > 0.8, "\(after.filter { $0.key.contains("progressive") })")
        #expect(after["tributary_build_info{version=\"\(BuildInfo.version)\"}"] == 1)
        #expect((after["process_cpu_seconds_total"] ?? 0) > 0 && (after["process_resident_memory_bytes"] ?? 0) > 1_000_000)
        #expect((after["process_open_fds"] ?? 0) > 3 && (after["process_start_time_seconds"] ?? 0) > 1_700_000_000)
        // The latency histogram (swift-metrics Timer): one observation per prediction.
        #expect(after["tributary_record_latency_seconds_count"] == 6000, "\(after.filter { $0.key.contains("latency") })")
        #expect(after["tributary_record_latency_seconds_bucket{le=\"+Inf\"}"] == 6000)

        let coord = try parsePrometheus(try httpGet(coordURL))
        #expect(coord["tributary_workers{state=\"up\"}"] == 1)
        // The cluster's merged quality; names apart from the workers' (no name with two meanings).
        #expect(coord.contains { $0.key.hasPrefix("tributary_cluster_progressive_metric{") && $0.key.contains("accuracy") && $0.value > 0.8 },
                "\(coord.keys.sorted())")
        #expect(coord.keys.contains { $0.hasPrefix("tributary_cluster_partition_lag{") } && coord["tributary_global_model_version"] != nil)
        #expect(!coord.keys.contains { $0.hasPrefix("tributary_partition_lag") || $0.hasPrefix("tributary_model_version") })
        #expect(coord["tributary_partitions_unassigned"] == 0)
        #expect(coord["tributary_partitions"] == 4)
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }

    @Test("deploy/monitoring: the alert rules are well-formed, and every metric the Grafana dashboard and the rules name is served by a live coordinator or worker")
    func monitoringFiles() throws {
        let dir = repoRoot + "/deploy/monitoring"
        let out = NSTemporaryDirectory() + "rules-\(UUID().uuidString.prefix(8)).json"
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(sh("python3 '\(repoRoot)/tools/check_rules.py' '\(dir)/tributary-alerts.yml' '\(dir)/tributary-dashboard.json' > '\(out)'") == 0)
        let named = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(named.count >= 10, "\(named)")

        let cluster = try Cluster.start(config: "[coordinator]\nmetrics_bind = \"127.0.0.1:0\"")
        let coordURL = try #require(cluster.coordinatorLine.split(separator: " ").last.map(String.init))
        let w = try Proc("mon", ["worker", "--coordinator", cluster.endpoint, "--id", "mon", "--metrics", "127.0.0.1:0"])
        try cluster.waitFor(seconds: 20, "the worker owns every partition") { $0.unassigned.isEmpty && $0.workers.count == 1 }
        // Malformed records too, so the dead letters by reason are there.
        let gen = try Proc("produce", ["produce", "--bootstrap", cluster.bootstrap, "--count", "2000", "--malformed", "0.05"])
        #expect(gen.wait(seconds: 60) == 0)
        try cluster.waitCommitted(try highWatermarks(bootstrap: cluster.bootstrap, topic: "events"))
        var workerURL = ""
        if let r = w.log.range(of: "http://[0-9.:]+/metrics", options: .regularExpression) { workerURL = String(w.log[r]) }
        var served = Set<String>()
        for url in [coordURL, workerURL] where !url.isEmpty {
            for series in try parsePrometheus(try httpGet(url)).keys { served.insert(String(series.prefix { $0 != "{" })) }
        }
        let missing = named.filter { !served.contains($0) }
        #expect(!workerURL.isEmpty && missing.isEmpty, "named but not served: \(missing); served: \(served.sorted())")
        w.signal(SIGTERM)
        #expect(w.wait(seconds: 20) == 0)
    }
}
