import ArgumentParser
import Foundation
import Runtime
import Wire

/// `tributary report`: the cluster's quality over time, from the coordinator's retained
/// history (a sample every `coordinator.history_interval_ms`), drawn as an SVG file.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the cluster's quality over time (per model, versions, drift) as an SVG file.")
    @Option(help: "The coordinator's endpoint (default: $TRIBUTARY_COORDINATOR, else tcp://127.0.0.1:7400).")
    var coordinator: String = BuildInfo.defaultCoordinator
    @Option(name: [.short, .long], help: "Where to write the SVG.") var output: String = "tributary-quality.svg"
    @OptionGroup var security: CurveOptions

    func run() throws {
        let s: ClusterStatus
        do { s = try fetchStatus(coordinator, curve: security.client(), history: true) } catch { fail(error.description) }
        let samples = s.history ?? []
        let chart = QualityChart(samples: samples, title: "Tributary \(s.cluster): quality over time (\(samples.count) samples)")
        do { try chart.svg().write(toFile: output, atomically: true, encoding: .utf8) } catch { fail("cannot write \(output): \(error)") }
        say("wrote \(output): \(samples.count) samples, models \(chart.models.joined(separator: ", ")), figures \(chart.figures.joined(separator: ", "))")
    }
}
