import Foundation
import Synchronization

/// The stderr logs of the `tributary` processes alive now, so that a wait that times out can
/// say what they warned of (CI shows the test output, not the logs). Tests run one at a time
/// (`swift test --no-parallel`), so the live processes are the failing test's.
enum LiveLogs {
    private static let live = Mutex<[ObjectIdentifier: (name: String, path: String)]>([:])

    static func add(_ p: Proc) { live.withLock { $0[ObjectIdentifier(p)] = (p.name, p.stderrPath) } }
    static func remove(_ p: Proc) { _ = live.withLock { $0.removeValue(forKey: ObjectIdentifier(p)) } }

    /// Each live process's last `lines` warnings and errors, one block per process.
    static func warnings(lines: Int = 8) -> String {
        let logs = live.withLock { Array($0.values) }.sorted { $0.name < $1.name }
        return logs.compactMap { log -> String? in
            guard let text = try? String(contentsOfFile: log.path, encoding: .utf8) else { return nil }
            let bad = text.split(separator: "\n").filter { $0.contains(" warning ") || $0.contains(" error ") || $0.contains(" critical ") }
            guard !bad.isEmpty else { return nil }
            return "\(log.name) (\(log.path)), last warnings:\n" + bad.suffix(lines).map { "  " + $0.prefix(300) }.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
