import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM in the commands that run to an end (produce, tail, status --watch,
/// demo, bench); their loops check it and stop gracefully. The long-running processes
/// (coordinator, worker, broker) are stopped through swift-service-lifecycle (`LoopService`).
/// An Atomic global: a signal handler may only touch async-signal-safe state.
public let stopRequested = Atomic<Bool>(false)

public enum Signals {
    /// Installs the handlers once per process.
    public static func installStopHandlers() {
        prepare()
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { _ in stopRequested.store(true, ordering: .relaxed) }
        }
    }

    /// What every process needs before it handles stop signals, whoever handles them.
    public static func prepare() {
        // A parent (a test runner, a supervisor) may have spawned us with these signals
        // blocked; the mask is inherited, and a blocked SIGTERM would never stop us.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        // A closed pipe (status piped to `head`) is an error to handle, not a crash.
        signal(SIGPIPE, SIG_IGN)
    }
    public static var shouldStop: Bool { stopRequested.load(ordering: .relaxed) }
}
