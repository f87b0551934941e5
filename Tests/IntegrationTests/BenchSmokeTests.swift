import Foundation
import Testing

/// The benchmark command works end to end (embedded broker, worker processes, the Python
/// peer). Speed is not asserted here: benchmarks measure it, tests do not.
@Suite("Benchmark command", .serialized)
struct BenchSmokeTests {
    @Test("tributary bench runs every side on the same records and reports the ratios")
    func benchRuns() throws {
        let peer = repoRoot + "/../shared/peers/python-river"
        let b = try Proc("bench", ["bench", "--events", "20000", "--partitions", "8", "--peer-events", "5000", "--peer", peer,
                                   "--tools", repoRoot + "/tools", "--examples", repoRoot + "/examples"])
        #expect(b.wait(seconds: 240) == 0, "\(b.log)")
        let out = b.remainingOutput()
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(out)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        let results = try #require(obj["results"] as? [[String: Any]])
        let names = results.compactMap { $0["name"] as? String }
        #expect(names.contains("bare librdkafka consume"))
        #expect(names.contains("tributary 1 worker, sync off"))
        // Every Tributary run processed every record.
        for r in results where (r["name"] as? String)?.hasPrefix("tributary") == true {
            #expect(r["events"] as? Int == 20000)
            // The delayed-label runs score an unlabelled stream: nothing to be accurate about.
            if (r["name"] as? String)?.contains("unlabelled") == false { #expect((r["accuracy"] as? Double ?? 0) > 0.8) }
        }
        #expect(names.contains("tributary 1 worker, sync off, unlabelled + waiting for labels"), "\(names)")
        // Latency percentiles and the sync pause are reported (values, not speeds, are checked).
        let latency = try #require(obj["latency"] as? [String: Any], "no latency run: \(out)")
        let e2e = try #require(latency["endToEnd"] as? [String: Double], "\(latency)")
        let p50 = try #require(e2e["p50Ms"]), p99 = try #require(e2e["p99Ms"])
        #expect(p50 > 0 && p99 >= p50)
        // The two stages split the same path: each part's median is within the whole's
        // (HDR buckets round by < 0.1 %).
        for stage in ["toWorker", "afterWorker"] {
            let s = try #require(latency[stage] as? [String: Double], "\(stage) missing: \(latency)")
            #expect(try #require(s["p50Ms"]) <= p50 * 1.001 + 1, "\(stage): \(s) vs \(e2e)")
        }
        #expect((latency["events"] as? Int ?? 0) > 1000)
        let pause = try #require(obj["syncPause"] as? [String: Any])
        #expect(pause["weights"] as? Int == 1 << 20)
        let ratios = try #require(obj["ratios"] as? [String: Double])
        #expect(ratios["tributary_1w_over_bare_librdkafka"] != nil)
        #expect(ratios["challenger_cost_fraction"] != nil, "the run with a challenger beside the champion")
        #expect(ratios["reference_monitor_cost_fraction"] != nil, "the run with the N-vs-1 monitor")
        #expect(ratios["label_snapshot_cost_fraction"] != nil, "the runs with and without predictions waiting for labels")
        // Models trained offline (scikit-learn), served: a text model and a 100-tree forest.
        #expect(ratios["pretrained_text_over_default"] != nil && ratios["pretrained_forest_over_default"] != nil, "\(ratios)")
        if FileManager.default.fileExists(atPath: peer + "/baseline.py") {
            #expect(names.contains { $0.hasPrefix("python peer") }, "python peer did not run: \(out)")
            #expect(ratios["tributary_1w_over_python"] != nil)
        }
        // The text and fraud workloads: Tributary and the Python peer each learn them on the
        // same records (the peer's events are the first 5,000), and both learn them.
        for w in ["text", "fraud"] {
            let ours = try #require(results.first { $0["name"] as? String == "tributary 1 worker, sync off, \(w) workload" }, "\(names)")
            #expect((ours["accuracy"] as? Double ?? 0) > 0.9, "\(ours)")
            let py = try #require(results.first { $0["name"] as? String == "python peer, \(w) workload" }, "\(names)")
            // Over its first 5,000 events only (text: 0.8996 once), so a lower bar.
            #expect(py["events"] as? Int == 5000 && (py["accuracy"] as? Double ?? 0) > 0.8, "\(py)")
            #expect(ratios["\(w)_workload_over_python"] != nil, "\(ratios)")
        }
        // The per-record work without Kafka, on the same events; the broker is named.
        let pipeline = try #require(obj["pipeline"] as? [String: Any], "no pipeline part: \(out)")
        #expect((pipeline["runnerNs"] as? Double ?? 0) > 0 && (pipeline["outputNs"] as? Double ?? 0) > 0)
        #expect((pipeline["accuracy"] as? Double ?? 0) > 0.8)
        let jobs = try #require(obj["pipelineWorkloads"] as? [[String: Any]], "\(out)")
        #expect(jobs.compactMap { $0["job"] as? String } == ["text workload", "fraud workload"], "\(jobs)")
        for j in jobs { #expect((j["runnerNs"] as? Double ?? 0) > 0 && (j["accuracy"] as? Double ?? 0) > 0.9, "\(j)") }
        #expect((obj["broker"] as? String ?? "").contains("mock cluster"))
    }

    @Test("tributary bench-scale drives the real membership and merge code with many simulated workers")
    func benchScale() throws {
        let b = try Proc("bench-scale", ["bench-scale", "--workers", "60", "--partitions", "600", "--rounds", "1",
                                         "--aggregator-workers", "12", "--weights", "65536", "--touched", "1,0.01",
                                         "--compressions", "none", "--shards", "1,2", "--aggregator-rounds", "2",
                                         "--datasets", "phishing,hyperplane", "--hyperplane-events", "5000", "--quality-workers", "4",
                                         "--tools", repoRoot + "/tools"])
        #expect(b.wait(seconds: 120) == 0, "\(b.log)")
        let out = b.remainingOutput()
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(out)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        let m = try #require(obj["membership"] as? [String: Any], "\(out)")
        let waves = try #require(m["waves"] as? [[String: Any]])
        #expect(waves.map { $0["change"] as? String ?? "" } == ["start", "6 leave", "6 crash", "12 join"])
        for w in waves {
            // Every partition owned, balanced, and no more moves than the change needs
            // (what a user of the cluster sees; the timings are the bench's to report).
            #expect(w["unassigned"] as? Int == 0 && (w["balance"] as? Int ?? 9) <= 1, "\(w)")
            #expect(w["moves"] as? Int == w["minimumMoves"] as? Int, "\(w)")
        }
        #expect((m["p99Us"] as? Double ?? 0) > 0)
        let aggregator = try #require(obj["aggregator"] as? [[String: Any]], "\(out)")
        // Each of dense and 1 % touched: 1 and 2 shards, and behind relays of 10 workers.
        #expect(aggregator.count == 6)
        for a in aggregator {
            #expect((a["roundMs"] as? Double ?? 0) > 0 && (a["cpuMs"] as? Double ?? -1) >= 0, "\(a)")
            // A version as a difference is never bigger than whole.
            #expect((a["diffBytesPerWorker"] as? Int ?? .max) <= (a["updateBytesPerWorker"] as? Int ?? 0), "\(a)")
            guard a["perHost"] == nil else {
                #expect(a["perHost"] as? Int == 10 && (a["hostMs"] as? Double ?? 0) > 0, "\(a)")
                continue
            }
            // A dense delta is the whole vector; a 1 % one about 1.5 % of it (12-byte pairs).
            let bytes = a["deltaBytesPerWorker"] as? Int ?? 0
            #expect((a["touched"] as? Double ?? 0) >= 1 ? bytes >= 65536 * 8 : bytes < 65536 * 8 / 40, "\(a)")
        }
        // Averaging replayed in process: one worker is River's own figure on Phishing (the
        // parity test's), and compressed deltas cost less than 0.2 accuracy points against
        // full precision with 4 workers, in fewer bytes.
        let quality = try #require(obj["quality"] as? [[String: Any]], "\(out)")
        // Per dataset: one worker, then 4 with deltas none, float16, int8, then versions too.
        #expect(quality.count == 2 * 6)
        func figure(_ dataset: String, _ workers: Int, _ compression: String, versions: String = "none") -> [String: Any]? {
            quality.first { $0["dataset"] as? String == dataset && $0["workers"] as? Int == workers && $0["compression"] as? String == compression
                && ($0["versionCompression"] as? String ?? "none") == versions }
        }
        #expect(abs((figure("phishing", 1, "none")?["accuracy"] as? Double ?? 0) - 0.8928) < 0.0005, "\(quality)")
        for dataset in ["phishing", "hyperplane"] {
            let full = try #require(figure(dataset, 4, "none"))
            var bytes = full["deltaBytes"] as? Double ?? 0
            for c in ["float16", "int8"] {
                let q = try #require(figure(dataset, 4, c))
                #expect(abs((q["accuracy"] as? Double ?? 0) - (full["accuracy"] as? Double ?? 1)) <= 0.002, "\(dataset) \(c): \(q) vs \(full)")
                #expect((q["deltaBytes"] as? Double ?? .infinity) < bytes, "\(dataset) \(c): \(q)")
                bytes = q["deltaBytes"] as? Double ?? 0
                // Versions as compressed differences as well: the same bound, fewer bytes out.
                let both = try #require(figure(dataset, 4, c, versions: c))
                #expect(abs((both["accuracy"] as? Double ?? 0) - (full["accuracy"] as? Double ?? 1)) <= 0.002, "\(dataset) \(c): \(both) vs \(full)")
                #expect((both["versionBytes"] as? Double ?? .infinity) < (full["versionBytes"] as? Double ?? 0), "\(dataset) \(c): \(both)")
            }
        }
    }

    /// Issue 25's bar for averaging on small streams, shown by the seeded replay (the real
    /// feature pipeline, models, sync sessions, wire codec and aggregator; no clocks): with
    /// `sync_every_samples = 5`, on 10 orders of River's Phishing (1,250 events, partitions
    /// read in random batches as fetches arrive), 2 and 4 workers stay within 0.5 accuracy
    /// points of one worker reading the same order, every time; on Hyperplane within 0.2.
    /// Each order is compared with one worker on that same order, so what is measured is the
    /// cost of sharing the model, not the order's luck (one worker alone varies 0.888-0.897 on
    /// Phishing across these orders).
    @Test("averaging with sync_every_samples: 2 and 4 workers within 0.5 points of one worker on Phishing in 10 of 10 seeded orders, within 0.2 on Hyperplane")
    func averagingOnSmallStreams() throws {
        let b = try Proc("bench-scale-quality", ["bench-scale", "--only", "quality", "--datasets", "phishing,hyperplane",
                                                 "--hyperplane-events", "20000", "--seeds", "10", "--sync-samples", "5",
                                                 "--quality-workers", "2,4", "--tools", repoRoot + "/tools"])
        #expect(b.wait(seconds: 600) == 0, "\(b.log)")
        let out = b.remainingOutput()
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(out)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        let quality = try #require(obj["quality"] as? [[String: Any]], "\(out)")
        for (dataset, bound) in [("phishing", 0.005), ("hyperplane", 0.002)] {
            for seed in 1...10 {
                let runs = quality.filter { $0["dataset"] as? String == dataset && $0["seed"] as? Int == seed }
                let one = try #require(runs.first { $0["workers"] as? Int == 1 }?["accuracy"] as? Double, "\(dataset) seed \(seed)")
                for w in [2, 4] {
                    let r = try #require(runs.first { $0["workers"] as? Int == w }, "\(dataset) seed \(seed), \(w) workers")
                    #expect(r["syncSamples"] as? Int == 5 && (r["rounds"] as? Int ?? 0) > 100, "\(r)")
                    let acc = r["accuracy"] as? Double ?? 0
                    #expect(abs(acc - one) <= bound, "\(dataset) seed \(seed): \(w) workers \(acc) vs one worker \(one)")
                }
            }
        }
    }

    @Test("tributary bench --broker tansu runs the bare and Tributary runs on a real Kafka-protocol broker")
    func benchOnTansu() throws {
        let b = try Proc("bench-tansu", ["bench", "--broker", "tansu", "--events", "10000", "--partitions", "4", "--only", "bare,tributary", "--peer", "",
                                         "--repeat", "2"])
        #expect(b.wait(seconds: 240) == 0, "\(b.log)")
        let out = b.remainingOutput()
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(out)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        #expect((obj["broker"] as? String ?? "").contains("Tansu"), "\(obj["broker"] ?? "")")
        let results = try #require(obj["results"] as? [[String: Any]])
        #expect(results.contains { $0["name"] as? String == "bare consume + produce" && $0["brokerCpuMicrosPerEvent"] != nil })
        for r in results where (r["name"] as? String)?.hasPrefix("tributary") == true {
            #expect(r["events"] as? Int == 10000, "\(r)")
            #expect((r["accuracy"] as? Double ?? 0) > 0.8)
        }
        // --repeat 2: a second pair of the no-work run and the 1-worker run, and the medians
        // of their ratios beside the first pair's.
        #expect(out.contains("repeat 2 of 2: bare consume + produce"), "\(out)")
        let ratios = try #require(obj["ratios"] as? [String: Double])
        for k in ["tributary_1w_over_bare_consume_produce", "cpu_1w_over_bare_consume_produce",
                  "tributary_1w_over_bare_consume_produce_median", "cpu_1w_over_bare_consume_produce_median"] {
            #expect((ratios[k] ?? 0) > 0, "\(k): \(ratios)")
        }
    }

    @Test("tributary bench-restore restores every key of a partition from its changelog and reports the time")
    func restoreBench() throws {
        let b = try Proc("bench-restore", ["bench-restore", "--keys", "20000"])
        #expect(b.wait(seconds: 120) == 0, "\(b.log)")
        let out = b.remainingOutput()
        let line = try #require(out.split(separator: "\n").first { $0.hasPrefix("RESULT ") }, "\(out)")
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any])
        #expect(obj["keys"] as? Int == 20000)
        #expect((obj["restoreMs"] as? Int ?? -1) >= 0)
    }
}
