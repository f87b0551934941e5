/// A bench run that cannot go on, thrown (not `fail`ed) where children must be stopped first.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
