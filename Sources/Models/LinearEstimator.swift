/// raw = W·x + b over the pipeline's columns. `coef` (dense rows) or `coef_sparse` (per row,
/// the non-zero columns: a hashed text model has 2^20 columns, most never seen in training).
public struct LinearEstimator: Sendable, Codable, Equatable {
    public struct SparseRow: Sendable, Codable, Equatable {
        public var indices: [Int]
        public var values: [Double]
        public init(indices: [Int], values: [Double]) {
            self.indices = indices
            self.values = values
        }
    }
    public var coef: [[Double]]?
    public var coefSparse: [SparseRow]?
    public var intercept: [Double]
    public var link: PretrainedEstimator.Link

    enum CodingKeys: String, CodingKey { case coef, intercept, link, coefSparse = "coef_sparse" }

    public init(coef: [[Double]], intercept: [Double], link: PretrainedEstimator.Link) {
        self.coef = coef
        self.intercept = intercept
        self.link = link
    }

    public var rows: Int { coef?.count ?? coefSparse?.count ?? 0 }

    /// Row-major weights over `width` columns.
    func dense(width: Int) -> [Double] {
        var w = [Double](repeating: 0, count: rows * width)
        if let coef {
            for (r, row) in coef.enumerated() { for (c, v) in row.enumerated() where c < width { w[r * width + c] = v } }
        } else if let coefSparse {
            for (r, row) in coefSparse.enumerated() {
                for (c, v) in zip(row.indices, row.values) where c >= 0 && c < width { w[r * width + c] = v }
            }
        }
        return w
    }

    func problem(width: Int, outputs: Set<Int>) -> String? {
        guard (coef == nil) != (coefSparse == nil) else { return "'estimator' needs exactly one of 'coef' and 'coef_sparse'" }
        guard outputs.contains(rows) else { return "'estimator.coef' has \(rows) rows, expected \(outputs.sorted().map(String.init).joined(separator: " or "))" }
        guard intercept.count == rows else { return "'estimator.intercept' has \(intercept.count) values, expected \(rows)" }
        guard intercept.allSatisfy(\.isFinite) else { return "'estimator.intercept' has a non-finite value" }
        if let coef {
            for (r, row) in coef.enumerated() {
                guard row.count == width else { return "'estimator.coef'[\(r)] has \(row.count) values, expected \(width) (one per column)" }
                guard row.allSatisfy(\.isFinite) else { return "'estimator.coef'[\(r)] has a non-finite value" }
            }
        }
        if let coefSparse {
            for (r, row) in coefSparse.enumerated() {
                guard row.indices.count == row.values.count else { return "'estimator.coef_sparse'[\(r)] has \(row.indices.count) indices and \(row.values.count) values" }
                if let bad = row.indices.first(where: { $0 < 0 || $0 >= width }) {
                    return "'estimator.coef_sparse'[\(r)] has column \(bad), outside 0..<\(width)"
                }
                guard row.values.allSatisfy(\.isFinite) else { return "'estimator.coef_sparse'[\(r)] has a non-finite value" }
            }
        }
        if link == .proba { return "'estimator.link' proba is for tree ensembles" }
        return nil
    }
}
