import Foundation

/// The JSON head of a sparse model delta: the dense width the pairs belong to.
struct SparseDeltaHead: Codable {
    var workerId: String
    var seq: Int
    var baseVersion: Int
    var samples: Int
    var scaler: [Double]?
    var width: Int?
    var sparse: Bool?
}
