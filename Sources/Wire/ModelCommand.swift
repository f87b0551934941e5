import Foundation
import Config
import Models

/// `export`: answer with the current global model. `import`: make `parameters` (frame 2) the
/// next version. `rollback`: make checkpoint `version`'s parameters the next version.
///
/// Model lifecycle (issue 11): `deploy` adds the model of `spec` (a spec file's TOML text,
/// parsed by the coordinator exactly as a file is), with `parameters` as its starting
/// weights (or none); `retire` removes model `name`, `promote` makes `name` the champion;
/// `ab` sets `name`'s A/B share to `share`; each answers with the version it takes effect at.
/// `export` with `name` answers with that model's part of the parameters.
public struct ModelCommand: Sendable, Codable, Equatable {
    public var action: String
    public var version: Int
    public var parameters: [Double]
    public var name: String
    public var spec: String
    public var share: Double
    /// `deploy` of a pre-trained model: the weights file's JSON text (`tributary.model/2`),
    /// checked by the coordinator against the cluster's features.
    public var pretrained: String
    public init(action: String, version: Int = 0, parameters: [Double] = [], name: String = "", spec: String = "",
                share: Double = 0, pretrained: String = "") {
        self.pretrained = pretrained
        self.action = action
        self.version = version
        self.parameters = parameters
        self.name = name
        self.spec = spec
        self.share = share
    }
    enum CodingKeys: String, CodingKey { case action, version, name, spec, share, pretrained }
    public init(from d: Decoder) throws {
        let c = try d.container(keyedBy: CodingKeys.self)
        action = try c.decode(String.self, forKey: .action)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 0
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        spec = try c.decodeIfPresent(String.self, forKey: .spec) ?? ""
        share = try c.decodeIfPresent(Double.self, forKey: .share) ?? 0
        pretrained = try c.decodeIfPresent(String.self, forKey: .pretrained) ?? ""
        parameters = []
    }
}
