import Foundation
import Features
import Models

/// A pre-trained weights file, by its `format`: `tributary.linear/1` (dense linear weights,
/// which a learning model can also start from) or `tributary.model/2` (`PretrainedPipeline`:
/// text, neural networks, tree ensembles; served only).
public enum WeightsFile: Sendable, Equatable {
    case linear(PretrainedModel)
    case pipeline(PretrainedPipeline)

    private struct Head: Decodable { var format: String? }

    /// Decodes and checks a file against the model it is for. The error names the field.
    public static func read(_ bytes: [UInt8], type: ModelKind, classes: [String], features: FeatureSpec) throws(WeightsFileError) -> WeightsFile {
        let data = Data(bytes)
        let format: String
        do { format = try JSONDecoder().decode(Head.self, from: data).format ?? "" } catch {
            throw WeightsFileError("is not a Tributary weights file: not JSON: \(describe(error))")
        }
        switch format {
        case PretrainedModel.currentFormat:
            let m: PretrainedModel
            do { m = try JSONDecoder().decode(PretrainedModel.self, from: data) } catch {
                throw WeightsFileError("is not a Tributary weights file: \(describe(error))")
            }
            if let why = m.validate(kind: type, classes: classes, featureNames: features.featureNames,
                                    denseCount: features.denseNames.count) { throw WeightsFileError(why) }
            return .linear(m)
        case PretrainedPipeline.currentFormat:
            let p: PretrainedPipeline
            do { p = try JSONDecoder().decode(PretrainedPipeline.self, from: data) } catch {
                throw WeightsFileError("is not a Tributary model file: \(describe(error))")
            }
            if let why = p.problem(kind: type, classes: classes, denseNames: features.denseNames,
                                   textFields: features.text.map(\.field)) { throw WeightsFileError(why) }
            return .pipeline(p)
        default:
            throw WeightsFileError("'format' is \"\(format)\", expected \"\(PretrainedModel.currentFormat)\" or \"\(PretrainedPipeline.currentFormat)\" (write it with tools/export_sklearn.py)")
        }
    }

    /// Puts the file into `spec` (inference with a pipeline; a linear file as before).
    public func apply(to spec: inout ModelSpec) {
        switch self {
        case .linear(let m): spec.pretrained = m
        case .pipeline(let p): spec.pipeline = p
        }
    }
}

/// A decoding error as a person reads it: which field, what was wrong.
func describe(_ e: any Error) -> String {
    switch e as? DecodingError {
    case .keyNotFound(let k, let c)?: return "missing field '\((c.codingPath + [k]).map(\.stringValue).joined(separator: "."))'"
    case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?:
        return "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
    case .dataCorrupted(let c)?: return c.codingPath.isEmpty ? c.debugDescription : "field '\(c.codingPath.map(\.stringValue).joined(separator: "."))': \(c.debugDescription)"
    default: return "\(e)"
    }
}
