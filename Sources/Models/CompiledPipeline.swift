/// What a `PretrainedPipeline` is scored with, built once when the file is read: the
/// vocabulary as a dictionary, linear weights as a row-major matrix, trees in preorder.
/// Every copy of the pipeline (one model set per partition) shares these arrays: built per
/// partition, a 100-tree forest's 1.4 MB of nodes became 32 copies on a 32-partition worker
/// (153 MiB resident, a cache miss per node). Built before the file is checked, so it never
/// traps on a file that does not fit (it is then never used).
public struct CompiledPipeline: Sendable {
    let vectorizer: CompiledVectorizer?
    let linearWeights: [Double]
    let trees: CompiledTrees?

    init(_ p: PretrainedPipeline) {
        vectorizer = p.text.map(CompiledVectorizer.init)
        switch p.estimator {
        case .linear(let e):
            let w = p.width
            linearWeights = w > 0 && w <= 1 << 28 ? e.dense(width: w) : []
            trees = nil
        case .mlp:
            linearWeights = []
            trees = nil
        case .trees(let t):
            linearWeights = []
            trees = CompiledTrees(t)
        }
    }
}
