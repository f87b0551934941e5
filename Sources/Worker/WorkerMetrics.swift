import Runtime
import Wire

/// A worker's report as Prometheus metrics (text format 0.0.4), for `--metrics`.
enum WorkerMetrics {
    static func render(_ r: WorkerReport, into p: ScrapePublisher) -> String {
        p.add("tributary_records_in_total", .counter, "Input records read.", Double(r.processed))
        p.add("tributary_predictions_total", .counter, "Predictions produced.", Double(r.predictions))
        // One counter, a series per reason (sum it for the total).
        var byReason = r.deadLettersByReason
        let other = r.deadLetters - byReason.values.reduce(0, +)
        if other > 0 { byReason["other", default: 0] += other }
        for (reason, n) in byReason.sorted(by: { $0.key < $1.key }) {
            p.add("tributary_dead_letters_total", .counter, "Records sent to the dead-letter topic, by reason.", Double(n), [("reason", reason)])
        }
        p.add("tributary_delivery_errors_total", .counter, "Outputs that failed delivery (partition replayed).", Double(r.deliveryErrors))
        p.add("tributary_key_mismatches_total", .counter, "Records whose Kafka key is not their features.key value.", Double(r.keyMismatches))
        p.add("tributary_redelivered_offsets_total", .counter, "Input records the consumer delivered again (already processed; skipped).", Double(r.redeliveredOffsets))
        p.add("tributary_skipped_offsets_total", .counter, "Input offsets never read (deleted before reached).", Double(r.skippedOffsets))
        for (what, n) in r.badValues.sorted(by: { $0.key < $1.key }) {
            let parts = what.split(separator: ":", maxSplits: 1).map(String.init)
            p.add("tributary_bad_values_total", .counter, "Bad feature values (handled per on_bad_value).", Double(n),
                  [("reason", parts[0]), ("field", parts.count > 1 ? parts[1] : "")])
        }
        p.add("tributary_transactions_committed_total", .counter, "Exactly-once transactions committed.", Double(r.transactionsCommitted))
        p.add("tributary_transactions_aborted_total", .counter, "Exactly-once transactions aborted (their records replayed).", Double(r.transactionsAborted))
        p.add("tributary_partitions_fenced_total", .counter, "Partitions given up because their transactional producer was fenced or failed.", Double(r.fencedPartitions))
        p.add("tributary_late_dropped_total", .counter, "Records behind the watermark, dropped.", Double(r.lateDropped))
        p.add("tributary_expired_keys_total", .counter, "Keys forgotten after their TTL.", Double(r.expiredKeys))
        p.add("tributary_changelog_bytes_total", .counter, "Feature-state changelog bytes written.", Double(r.changelogBytes))
        p.add("tributary_in_flight", .gauge, "Outputs awaiting delivery.", Double(r.inFlight))
        // Progressive validation (predictions made before learning), per model: the champion
        // and each challenger side by side, over the whole run and the rolling window.
        let models: [(String, [String: Double], [String: Double])] = r.models.isEmpty
            ? [("champion", r.metrics, r.windowMetrics)]
            : r.models.map { ($0.name, $0.evaluation.whole.summary, $0.evaluation.window.summary) }
        for (model, run, window) in models {
            for (scope, figures) in [("run", run), ("window", window)] {
                for (name, v) in figures.sorted(by: { $0.key < $1.key }) where name != "count" {
                    p.add("tributary_progressive_metric", .gauge, "Progressive validation figures of each model (whole run and rolling window).",
                          v, [("model", model), ("metric", name), ("scope", scope)])
                }
            }
        }
        p.add("tributary_drift_detections_total", .counter, "Drift detections on the running loss (Page-Hinkley).",
              Double(r.evaluation?.driftDetections ?? 0))
        p.add("tributary_model_version", .gauge, "Global model version in use.", Double(r.modelVersion))
        p.add("tributary_kafka_error", .gauge, "1 while Kafka reports an error (last 10 s).", r.kafkaError.isEmpty ? 0 : 1)
        p.add("tributary_repartitioned_total", .counter, "Input records re-keyed into the repartition topic (features.repartition).", Double(r.repartitioned))
        if let l = r.labels {
            for (what, n) in [("joined", l.joined), ("expired", l.expired), ("evicted", l.evicted), ("late", l.late), ("late_learnt", l.lateLearnt),
                              ("duplicate", l.duplicate), ("unknown_id", l.unknown), ("no_id", l.noId),
                              ("handed_on", l.handedOn), ("dead_letter", l.deadLetters)] {
                p.add("tributary_labels_total", .counter, "Delayed labels ([labels]) by outcome.", Double(n), [("outcome", what)])
            }
            p.add("tributary_labels_waiting", .gauge, "Predictions waiting for their label.", Double(l.pending))
            p.add("tributary_labels_waiting_bytes", .gauge, "Heap held by the predictions waiting for their label (estimated).", Double(l.pendingBytes))
            p.add("tributary_labels_early", .gauge, "Labels waiting for their prediction.", Double(l.earlyLabels))
            p.add("tributary_label_delay_seconds", .gauge, "Label delay (event time) over the latest joins, by quantile.", l.delayP50, [("quantile", "0.5")])
            p.add("tributary_label_delay_seconds", .gauge, "Label delay (event time) over the latest joins, by quantile.", l.delayP99, [("quantile", "0.99")])
        }
        for part in r.partitions {
            let l = [("partition", String(part.partition))]
            p.add("tributary_partition_lag", .gauge, "Records not yet read.", Double(max(part.lag, 0)), l)
            p.add("tributary_partition_committed_offset", .gauge, "Committed offset (next to read).", Double(part.committed), l)
            p.add("tributary_partition_epoch", .gauge, "Assignment epoch.", Double(part.epoch), l)
            p.add("tributary_partition_keys", .gauge, "Keys with feature state.", Double(part.keys), l)
            p.add("tributary_partition_state_bytes", .gauge, "Feature state size at its last full snapshot.", Double(part.stateBytes), l)
        }
        p.addProcess()
        return p.finish()
    }
}
