import Foundation

/// The JSON head of a sparse or compressed model delta: the dense width the pairs or the
/// compressed values belong to, and the compression (`DeltaCompression`) of the latter.
struct SparseDeltaHead: Codable {
    var workerId: String
    var seq: Int
    var baseVersion: Int
    var samples: Int
    var scaler: [Double]?
    var width: Int?
    var sparse: Bool?
    var compression: String?
    var reference: [ReferenceSample]?
    var referenceDropped: Int?
    var members: [String: Int]?
}
