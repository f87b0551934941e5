#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Features
import Models

extension ModelSpec {
    /// `[model]` (and a challenger's table): every key checked, errors naming key and line.
    init(reading t: inout TableReader) throws(ConfigError) {
        self.init()
        let typeLine = t.table["type"]?.line ?? t.table.line
        type = ModelKind(rawValue: try t.string("type", type.rawValue, oneOf: ModelKind.allCases.map(\.rawValue)))!
        classes = try t.strings("classes", classes)
        if classes.count > 10_000 {
            // Every worker allocates per class (weights, metrics): a bound for specs that come
            // over the wire (`model deploy`) as much as for files.
            throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"),
                              "\(classes.count) classes is too many (at most 10000)")
        }
        if type == .softmaxRegression {
            guard classes.count >= 2 else {
                throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"),
                                  "softmax_regression needs the class names, at least 2 (e.g. classes = [\"a\", \"b\", \"c\"])")
            }
            if Set(classes).count != classes.count {
                throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"), "class names repeat")
            }
        } else if !classes.isEmpty {
            throw ConfigError(line: t.table["classes"]?.line ?? typeLine, key: t.full("classes"),
                              "only softmax_regression has classes (type is \(type.rawValue))")
        }
        optimizer.kind = .init(rawValue: try t.string("optimizer", optimizer.kind.rawValue,
                                                      oneOf: OptimizerSpec.Kind.allCases.map(\.rawValue)))!
        optimizer.learningRate = try t.double("learning_rate", optimizer.learningRate, min: 1e-9, max: 10)
        optimizer.schedule = .init(rawValue: try t.string("schedule", optimizer.schedule.rawValue,
                                                          oneOf: OptimizerSpec.Schedule.allCases.map(\.rawValue)))!
        optimizer.power = try t.double("power_t", optimizer.power, min: 0, max: 2)
        optimizer.beta1 = try t.double("beta1", optimizer.beta1, min: 0, max: 0.999999)
        optimizer.beta2 = try t.double("beta2", optimizer.beta2, min: 0, max: 0.99999999)
        optimizer.ftrlBeta = try t.double("ftrl_beta", optimizer.ftrlBeta, min: 0, max: 1e6)
        l1 = try t.double("l1", l1, min: 0, max: 10)
        l2 = try t.double("l2", l2, min: 0, max: 10)
        clipGradient = try t.double("clip_gradient", clipGradient, min: 1e-9)
        if t.table["intercept"] != nil { intercept = try t.bool("intercept", true) }
        if t.table["clip_sigma"] != nil { clipSigma = try t.double("clip_sigma", ModelSpec.defaultClipSigma, min: 0, max: 1e6) }
        if t.table["intercept_lr"] != nil {
            interceptLR = try t.double("intercept_lr", 0.01, min: 0, max: 10)
            if intercept == false {
                throw ConfigError(line: t.table["intercept_lr"]?.line ?? 0, key: t.full("intercept_lr"), "has no effect with intercept = false")
            }
        }
        standardize = try t.bool("standardize", standardize)
        mode = try t.string("mode", mode, oneOf: ["learn", "inference"])
        weightsFile = try t.string("weights_file", weightsFile)
        if mode == "inference" && weightsFile.isEmpty {
            throw ConfigError(line: t.table["mode"]?.line ?? t.table.line, key: t.full("weights_file"),
                              "is required with mode = \"inference\" (the pre-trained weights to predict with)")
        }
        metricsWindow = try t.int("metrics_window", metricsWindow, min: 1, max: 10_000_000)
        driftDetector = try t.string("drift_detector", driftDetector, oneOf: ["page_hinkley", "off"])
        driftThreshold = try t.double("drift_threshold", driftThreshold, min: 1e-9)
        driftDelta = try t.double("drift_delta", driftDelta, min: 0)
        driftMinInstances = try t.int("drift_min_instances", driftMinInstances, min: 1)
        syncIntervalMs = try t.int("sync_interval_ms", syncIntervalMs, min: 0, max: 3_600_000)
        if t.table["sync_every_samples"] != nil {
            syncEverySamples = try t.int("sync_every_samples", syncEverySamples ?? 0, min: 0, max: 100_000_000)
        }
        if mode == "inference" { syncIntervalMs = 0; syncEverySamples = nil }
        mergeRule = .init(rawValue: try t.string("merge", mergeRule.rawValue, oneOf: MergeRule.allCases.map(\.rawValue)))!
        if t.table["server_learning_rate"] != nil {
            serverLearningRate = try t.double("server_learning_rate", serverLearningRate ?? 1, min: 0.01, max: 100)
        }
        if t.table["reference_sample"] != nil {
            referenceSample = try t.double("reference_sample", referenceSample ?? 0, min: 0, max: 1)
        }
        if t.table["reference_warn"] != nil {
            referenceWarn = try t.double("reference_warn", referenceWarn ?? Self.defaultReferenceWarn, min: 0)
        }
        if mode == "inference" { referenceSample = nil }
        if t.table["server_momentum"] != nil {
            serverMomentum = try t.double("server_momentum", serverMomentum ?? 0, min: 0, max: 0.99)
        }
        if t.table["delta_compression"] != nil {
            deltaCompression = .init(rawValue: try t.string("delta_compression", (deltaCompression ?? .none).rawValue,
                                                            oneOf: DeltaCompression.allCases.map(\.rawValue)))
        }
        if t.table["version_compression"] != nil {
            versionCompression = .init(rawValue: try t.string("version_compression", (versionCompression ?? .none).rawValue,
                                                              oneOf: DeltaCompression.allCases.map(\.rawValue)))
        }
        checkpointFile = try t.string("checkpoint_file", checkpointFile)
        keepVersions = try t.int("keep_versions", keepVersions, min: 2, max: 100_000)
        robustAveraging = try t.string("robust_averaging", robustAveraging, oneOf: ["clip", "reject", "off"])
        robustFactor = try t.double("robust_factor", robustFactor, min: 1.5, max: 1e6)
    }
}
