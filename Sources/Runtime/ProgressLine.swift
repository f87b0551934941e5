/// What long work prints as it goes: done of total, percentage, rate and time left
/// ("120,000/300,000 (40 %), 52,310/s, 3 s left"). Pure: time comes in.
public struct ProgressLine: Sendable, Equatable {
    public let total: Int64
    public let unit: String
    public let startedMs: Int64

    public init(total: Int64, unit: String, startedMs: Int64) {
        self.total = total
        self.unit = unit
        self.startedMs = startedMs
    }

    public func text(done: Int64, nowMs: Int64) -> String {
        let secs = Double(max(1, nowMs - startedMs)) / 1000
        let rate = Double(done) / secs
        var s = "\(Self.grouped(done))"
        if total > 0 {
            s += "/\(Self.grouped(total)) \(unit) (\(min(100, done * 100 / total)) %)"
        } else {
            s += " \(unit)"
        }
        s += ", \(Self.grouped(Int64(rate.rounded())))/s"
        if total > 0 && done < total && rate > 0 {
            s += ", \(Self.duration((Double(total - done) / rate).rounded(.up))) left"
        }
        return s
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ n: Int64) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return n < 0 ? "-" + out : out
    }

    /// Seconds as "42 s", "3 min 5 s", "2 h 10 min".
    static func duration(_ s: Double) -> String {
        let t = Int(s)
        if t < 60 { return "\(t) s" }
        if t < 3600 { return "\(t / 60) min \(t % 60) s" }
        return "\(t / 3600) h \(t % 3600 / 60) min"
    }
}
