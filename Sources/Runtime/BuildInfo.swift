#if canImport(Glibc)
import Glibc
#endif

/// What this build is, for `tributary --version`.
public enum BuildInfo {
    /// Bumped with each landed round of work (semantic: the wire format and config are
    /// compatible within a minor version).
    public static let version = "0.12.0"

    /// The default coordinator endpoint of every command that talks to one: the
    /// `TRIBUTARY_COORDINATOR` environment variable (as `RAY_ADDRESS` and
    /// `DASK_SCHEDULER_ADDRESS` are for their clusters), else the local default.
    public static var defaultCoordinator: String {
        let env = getenv("TRIBUTARY_COORDINATOR").map { String(cString: $0) } ?? ""
        return env.isEmpty ? "tcp://127.0.0.1:7400" : env
    }
}
