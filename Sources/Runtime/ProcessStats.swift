#if canImport(Glibc)
import Glibc
#endif

/// This process's figures for the `process_*` metrics, read from /proc (Linux) as the
/// Prometheus client libraries read them. Hand-written: swift-prometheus exports none of them.
public struct ProcessStats: Sendable {
    public var cpuSeconds = 0.0
    public var residentBytes = 0.0
    public var virtualBytes = 0.0
    public var startTimeSeconds = 0.0
    public var openFDs = 0.0
    public var maxFDs = 0.0

    public static func read() -> ProcessStats {
        var s = ProcessStats()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: fields after the command name (which may hold spaces, so split
        // after its closing parenthesis): 3 state ... 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss.
        if let stat = text("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            let f = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double { n - 3 < f.count ? Double(f[n - 3]) ?? 0 : 0 }
            s.cpuSeconds = (field(14) + field(15)) / ticks
            s.virtualBytes = field(23)
            s.residentBytes = field(24) * page
            if let boot = text("/proc/stat")?.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
                .flatMap({ Double($0.split(separator: " ").last ?? "") }) {
                s.startTimeSeconds = boot + field(22) / ticks
            }
        }
        if let d = opendir("/proc/self/fd") {
            var n = 0
            while let e = readdir(d) { if e.pointee.d_name.0 != 0x2E { n += 1 } }  // not "." or ".."
            closedir(d)
            s.openFDs = Double(max(0, n - 1))  // less the one opendir holds
        }
        var lim = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 { s.maxFDs = Double(lim.rlim_cur) }
        return s
    }

    static func text(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
