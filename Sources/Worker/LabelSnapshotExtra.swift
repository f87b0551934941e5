/// The rarer parts of a `LabelSnapshot` (hashed inputs, target-encoding values), boxed so a
/// snapshot without them carries one nil reference instead of three empty arrays: a waiting
/// prediction of dense features then fits in one small struct and one buffer.
final class LabelSnapshotExtra: Sendable, Equatable {
    let sparseIndices: [Int32]
    let sparseValues: [Double]
    let targets: [String?]

    init(sparseIndices: [Int32], sparseValues: [Double], targets: [String?]) {
        self.sparseIndices = sparseIndices
        self.sparseValues = sparseValues
        self.targets = targets
    }

    /// nil when there is nothing to keep.
    static func make(sparseIndices: [Int32], sparseValues: [Double], targets: [String?]) -> LabelSnapshotExtra? {
        sparseIndices.isEmpty && targets.isEmpty ? nil : LabelSnapshotExtra(sparseIndices: sparseIndices, sparseValues: sparseValues, targets: targets)
    }

    static func == (a: LabelSnapshotExtra, b: LabelSnapshotExtra) -> Bool {
        a.sparseIndices == b.sparseIndices && a.sparseValues == b.sparseValues && a.targets == b.targets
    }
}
