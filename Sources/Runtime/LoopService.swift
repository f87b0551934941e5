import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A process's loop as a swift-service-lifecycle `Service`. Each Tributary process is one
/// synchronous loop (its ZeroMQ sockets and librdkafka handles live on one thread, polled
/// together, with no locks), so the loop runs on a thread of its own rather than on the
/// concurrency pool, and graceful shutdown (SIGTERM or SIGINT, delivered by the
/// `ServiceGroup`) sets the flag the loop checks at least every 100 ms. The loop then
/// finishes its in-flight records, delivers, commits and hands its partitions back.
public final class LoopService: Service, Sendable {
    /// Runs the loop until `shouldStop()` is true; returns the process's exit code.
    public typealias Body = @Sendable (_ shouldStop: @escaping @Sendable () -> Bool) -> Int32

    private let body: Body
    private let stop = Atomic<Bool>(false)
    private let exitCode = Atomic<Int32>(0)

    public init(_ body: @escaping Body) { self.body = body }

    public func run() async throws {
        await withGracefulShutdownHandler {
            let code = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
                let thread = Thread { [self] in
                    done.resume(returning: body { [self] in stop.load(ordering: .relaxed) })
                }
                thread.name = "tributary-loop"
                thread.stackSize = 16 << 20
                thread.start()
            }
            exitCode.store(code, ordering: .relaxed)
        } onGracefulShutdown: { [self] in
            stop.store(true, ordering: .relaxed)
        }
    }

    /// Runs `body` in a `ServiceGroup` that shuts it down gracefully on SIGTERM and SIGINT;
    /// returns the loop's exit code.
    public static func runUntilSignalled(label: String, _ body: @escaping Body) async -> Int32 {
        Signals.prepare()
        let service = LoopService(body)
        var logger = Logger(label: label)
        logger.logLevel = .warning  // the group's own lifecycle lines are noise to an operator
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            Logger(label: label).error("service group failed: \(error)")
            return 1
        }
        return service.exitCode.load(ordering: .relaxed)
    }
}
