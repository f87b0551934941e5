import CKafka
#if canImport(Glibc)
import Glibc
#endif

/// A pipe that librdkafka writes to when a queue goes from empty to non-empty
/// (`rd_kafka_queue_io_event_enable`), so one `zmq_poll` can wait on Kafka and sockets
/// together. Only the transition is signalled: drain the queue before waiting again, and
/// `clear()` after waking. Owns both fds and unregisters itself before closing them.
final class QueueWakeup {
    let readFD: Int32
    private let writeFD: Int32
    private let queue: OpaquePointer

    init?(queue: OpaquePointer) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        readFD = fds[0]
        writeFD = fds[1]
        self.queue = queue
        rd_kafka_queue_io_event_enable(queue, writeFD, "1", 1)
    }

    /// Must run before the queue is destroyed.
    func disable() {
        rd_kafka_queue_io_event_enable(queue, -1, nil, 0)
        close(readFD)
        close(writeFD)
    }

    func clear() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(readFD, &buf, buf.count) > 0 {}
    }
}
