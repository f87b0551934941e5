import Dispatch
import Logging
import Features
import Kafka
import Runtime

/// Reads feature-state changelogs off the worker's loop thread. A restore takes as long as
/// its changelog (100,000 keys: seconds on the embedded broker, far more under a sanitizer),
/// and the loop must keep heartbeating, serving its other partitions and hearing revokes
/// meanwhile; the coordinator declares a silent worker dead after `failure_timeout_ms`.
/// Jobs run one at a time on a serial queue, which owns the restore consumer; the loop
/// collects finished restores with `takeFinished()` on each turn.
final class ChangelogRestorer: Sendable {
    struct Job: Sendable {
        /// Tells a result from one for an older run of the same partition (revoked, then
        /// assigned again while the first restore was still reading).
        let token: Int
        let partition: Int32
        let topic: String
        let pipeline: FeaturePipeline
    }

    struct Outcome: Sendable {
        let token: Int
        let partition: Int32
        /// The restored state and the input offset it covers; nil offset: no checkpoint.
        let state: PartitionState?
        let nextOffset: Int64?
        let records: Int
        let ms: Int64
        /// Why the changelog could not be read (the partition then starts with empty state).
        let error: String?
    }

    private let consumerConfig: KafkaClientConfig
    /// A long restore says how far it is, every `progressEveryMs`, in the worker's log.
    private let log: Logger?
    static let progressEveryMs: Int64 = 5000
    private let queue = DispatchQueue(label: "tributary.changelog-restore")
    /// Touched only on `queue`: the restore consumer, made at the first job.
    private let consumer = ConsumerBox()
    private let finished = Locked<[Outcome]>([])

    /// A consumer is not Sendable (one owner at a time); the serial queue is its only owner.
    private final class ConsumerBox: @unchecked Sendable {
        var consumer: KafkaConsumer?
    }

    /// - consumerConfig: the worker's consumer settings; the group id is replaced (a restore
    ///   never commits, and must never share the input's group).
    init(consumerConfig: KafkaClientConfig, groupId: String, log: Logger? = nil) {
        self.log = log
        var c = consumerConfig
        c["group.id"] = groupId + ".restore"
        self.consumerConfig = ChangelogReader.consumerConfig(c)
    }

    func submit(_ job: Job) {
        queue.async { [self] in
            let outcome = run(job, consumer)
            finished.withLock { $0.append(outcome) }
        }
    }

    /// Restores finished since the last call, oldest first.
    func takeFinished() -> [Outcome] {
        finished.withLock { done in
            defer { done.removeAll() }
            return done
        }
    }

    private func run(_ job: Job, _ box: ConsumerBox) -> Outcome {
        let started = Clock.nowMs()
        do throws(any Error) {
            if box.consumer == nil { box.consumer = try KafkaConsumer(config: consumerConfig, batchSize: 5000) }
            var said = started
            let r = try ChangelogReader.read(box.consumer!, topic: job.topic, partition: job.partition, pipeline: job.pipeline,
                                             reading: { done, total in
                let now = Clock.nowMs()
                guard let log, now - said >= Self.progressEveryMs else { return }
                said = now
                let line = ProgressLine(total: total, unit: "changelog records", startedMs: started).text(done: done, nowMs: now)
                log.info("partition \(job.partition): restoring feature state from \(job.topic): \(line)")
            })
            let (state, next) = r.finish()
            return Outcome(token: job.token, partition: job.partition, state: state, nextOffset: next,
                           records: r.records, ms: Clock.nowMs() - started, error: nil)
        } catch {
            return Outcome(token: job.token, partition: job.partition, state: nil, nextOffset: nil,
                           records: 0, ms: Clock.nowMs() - started, error: "\(error)")
        }
    }
}
