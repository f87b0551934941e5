import Dispatch
import Kafka
import Runtime

/// Looks up the input group's committed offsets off the worker's loop thread: the lookup
/// waits on the group coordinator (seconds when a broker is slow, longer under a sanitizer),
/// and the loop must keep heartbeating meanwhile. Used for status only; the consumer itself
/// resumes from the commit without it.
final class CommittedLookup: Sendable {
    /// librdkafka's handle is thread-safe and `committed` touches nothing else of the
    /// consumer: the one call made from the queue. The box keeps the consumer alive until the
    /// last lookup returns.
    private final class ConsumerRef: @unchecked Sendable {
        let consumer: KafkaConsumer
        init(_ c: KafkaConsumer) { consumer = c }
    }

    private let ref: ConsumerRef
    private let queue = DispatchQueue(label: "tributary.committed-lookup")
    private let finished = Locked<[(Int32, Int, Int64)]>([])

    init(consumer: KafkaConsumer) { ref = ConsumerRef(consumer) }

    func submit(_ tp: TopicPartition, token: Int) {
        queue.async { [self] in
            guard let o = (try? ref.consumer.committed([tp], timeoutMs: 10_000))?[tp] else { return }
            finished.withLock { $0.append((tp.partition, token, o)) }
        }
    }

    /// (partition, token, committed offset) of lookups finished since the last call.
    func takeFinished() -> [(Int32, Int, Int64)] {
        finished.withLock { done in
            defer { done.removeAll() }
            return done
        }
    }
}
