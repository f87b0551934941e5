import Features

/// Deterministic synthetic events in the shape of the Python peer's `gen.py`:
/// `{"user": "u17", "ts": 1700000000.001, "x": {"f0": 0.63, ...}, "y": 1}`.
/// Features and label follow River's Hyperplane generator (x ~ U[0,1]^d, fixed random
/// weights w, y = [w·x > ½Σw], 5 % label noise): learnable by a linear model. The random
/// source is SplitMix64, so a seed gives the same stream on every machine.
struct SyntheticStream {
    var rng: SplitMix64
    let weights: [Double]
    let users: Int
    let noise: Double
    var index = 0
    static let ts0 = 1_700_000_000.0

    init(seed: UInt64, features: Int = 8, users: Int = 1000, noise: Double = 0.05) {
        var r = SplitMix64(seed: seed)
        weights = (0..<features).map { _ in r.nextDouble() }
        rng = r
        self.users = users
        self.noise = noise
    }

    /// The next event as JSON bytes, and its key.
    /// - timestamp: the event time to write (default: the synthetic 1 ms-per-event clock).
    mutating func next(timestamp: Double? = nil) -> (key: String, value: [UInt8]) {
        let user = "u\(rng.next() % UInt64(users))"
        var x: [Double] = []
        var dot = 0.0
        for w in weights {
            let v = rng.nextDouble()
            x.append(v)
            dot += w * v
        }
        var y = dot > 0.5 * weights.reduce(0, +) ? 1 : 0
        if rng.nextDouble() < noise { y = 1 - y }
        let ts = timestamp ?? SyntheticStream.ts0 + Double(index) * 0.001
        index += 1
        var s = "{\"user\": \"\(user)\", \"ts\": \(ts), \"x\": {"
        for (i, v) in x.enumerated() { s += "\(i > 0 ? ", " : "")\"f\(i)\": \(v)" }
        s += "}, \"y\": \(y)}"
        return (user, Array(s.utf8))
    }

    /// A malformed event of one of the kinds a real stream carries.
    mutating func malformed() -> (key: String, value: [UInt8]) {
        let kinds = ["not json at all", "{\"user\": \"u1\", \"x\": {\"f0\": ", "{\"ts\": 1, \"x\": {\"f0\": 1}, \"y\": 0}",
                     "{\"user\": \"u2\", \"ts\": 1, \"x\": {\"f0\": \"high\"}, \"y\": 1}", "[1, 2, 3]"]
        let k = kinds[Int(rng.next() % UInt64(kinds.count))]
        index += 1
        return ("bad", Array(k.utf8))
    }
}
