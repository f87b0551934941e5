import Wire

/// How `--inject-delta-fault` poisons a worker's model deltas.
public enum DeltaFault: String, Sendable, CaseIterable {
    /// A NaN in the parameters.
    case nan
    /// Parameters × 1e6, samples × 1000, scaler sums × 1e6.
    case huge
    /// nan and huge by turns.
    case mixed

    /// Poisons a delta the way this fault says (what a broken or malicious worker could send).
    /// Returns a description for the log.
    func poison(_ d: inout ModelDelta) -> String {
        let nan = self == .nan || (self == .mixed && d.seq % 2 == 1)
        // The poisoned values travel as float64 (a compressed delta's bytes would carry the
        // honest ones).
        d.compressed = nil
        d.compression = nil
        if nan {
            if !d.delta.isEmpty { d.delta[0] = .nan }
        } else {
            for i in d.delta.indices { d.delta[i] *= 1e6 }
            d.samples *= 1000
            let w = d.scaler.count / 3
            for i in w..<(3 * w) { d.scaler[i] *= 1e6 }
        }
        return nan ? "NaN" : "x 1e6, samples x 1000"
    }
}
