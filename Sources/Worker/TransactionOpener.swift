import Dispatch
import Kafka
import Runtime

/// Makes exactly-once partitions' transactional producers off the worker's loop thread:
/// `initTransactions` waits on the transaction coordinator (it fences every earlier owner of
/// the id and aborts what they left open; up to 10 s when a broker is slow), and the loop
/// must keep heartbeating meanwhile. One serial queue: two runs of one partition (revoked and
/// assigned again while the first was still opening) open in order, so the newer fences the
/// older. The loop collects finished producers with `takeFinished()` on each turn.
final class TransactionOpener: Sendable {
    struct Opened: @unchecked Sendable {
        let partition: Int32
        let token: Int
        /// Made here, then owned by the loop thread alone once taken (the lock orders the two).
        let result: Result<KafkaProducer, KafkaError>
        let transactionalId: String
    }

    private let queue = DispatchQueue(label: "tributary.transactions-init")
    private let finished = Locked<[Opened]>([])

    init() {}

    func submit(partition: Int32, token: Int, config: KafkaClientConfig) {
        queue.async { [self] in
            let result: Result<KafkaProducer, KafkaError>
            do throws(KafkaError) {
                let txn = try KafkaProducer(config: config, deliveryReports: false)
                try txn.initTransactions(timeoutMs: 10_000)
                result = .success(txn)
            } catch {
                result = .failure(error)
            }
            let opened = Opened(partition: partition, token: token, result: result, transactionalId: config["transactional.id"] ?? "")
            finished.withLock { $0.append(opened) }
        }
    }

    /// Producers opened (or failed) since the last call, oldest first.
    func takeFinished() -> [Opened] {
        finished.withLock { done in
            defer { done.removeAll() }
            return done
        }
    }
}
