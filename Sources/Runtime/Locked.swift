import Foundation

/// A value shared between threads behind a lock. NSLock (a pthread mutex) rather than the
/// standard library's `Mutex`: on Linux that one waits on raw futexes, which ThreadSanitizer
/// cannot see, so every hand-over through it is reported as a race (seen in CI's TSan runs).
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
