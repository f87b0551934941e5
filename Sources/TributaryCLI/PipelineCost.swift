/// What the per-record work costs without Kafka (`tributary bench --only pipeline`): the
/// worker's `RecordRunner` (parse, per-key features, every model predicts and learns,
/// progressive metrics) and the prediction record it writes, on the bench's events, in
/// process. The Kafka runs add the I/O; this is the "ML work" of issue 24 alone.
struct PipelineCost: Codable {
    /// "default spec", or a workload's name.
    var job: String
    var events: Int
    /// Best of several passes, ns per event.
    var runnerNs: Double
    var outputNs: Double
    var totalNs: Double { runnerNs + outputNs }
    var accuracy: Double
}
