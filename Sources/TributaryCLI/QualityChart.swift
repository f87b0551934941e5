import Foundation
import Wire

/// Draws the cluster's quality over time as an SVG (`tributary report`): one panel per figure
/// (accuracy and log loss, or a regression's MAE and RMSE), a line per model (champion and
/// challengers side by side), vertical marks where the global model version changed and where
/// drift was detected, time and value axes with ticks. Pure: samples in, SVG text out.
struct QualityChart {
    let samples: [QualitySample]
    let title: String
    static let width = 960.0, panelHeight = 260.0, left = 70.0, right = 170.0, top = 50.0, gap = 60.0
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// The figures drawn: the first two a model reports, in this order of preference.
    var figures: [String] {
        let have = Set(samples.flatMap { $0.models.values.flatMap(\.keys) })
        return ["accuracy", "log_loss", "roc_auc", "macro_f1", "mae", "rmse", "r2"].filter { have.contains($0) }.prefix(2).map { $0 }
    }

    /// Models in the order they first appear, the champion of the first sample first.
    var models: [String] {
        var out: [String] = []
        for s in samples {
            for name in [s.champion] + s.models.keys.sorted() where s.models[name] != nil && !out.contains(name) { out.append(name) }
        }
        return out
    }

    func svg() -> String {
        let figs = figures, names = models
        let height = Self.top + Double(max(1, figs.count)) * (Self.panelHeight + Self.gap) + 20
        var o = ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(Self.width))" height="\##(Int(height))" font-family="sans-serif" font-size="12">"## + "\n"
        o += ##"<rect width="100%" height="100%" fill="white"/>"## + "\n"
        o += ##"<text x="\##(Self.left)" y="24" font-size="16" font-weight="bold">\##(Self.escape(title))</text>"## + "\n"
        guard let first = samples.first, let last = samples.last, !figs.isEmpty else {
            o += ##"<text x="\##(Self.left)" y="\##(Self.top + 20)">no labelled predictions yet: nothing to draw</text>"## + "\n</svg>\n"
            return o
        }
        let t0 = Double(first.wallMs), t1 = max(Double(last.wallMs), t0 + 1000)
        let plotW = Self.width - Self.left - Self.right
        func x(_ ms: Int64) -> Double { Self.left + (Double(ms) - t0) / (t1 - t0) * plotW }
        for (pi, fig) in figs.enumerated() {
            let y0 = Self.top + Double(pi) * (Self.panelHeight + Self.gap)
            let values = samples.flatMap { $0.models.values.compactMap { $0[fig] } }.filter(\.isFinite)
            var lo = values.min() ?? 0, hi = values.max() ?? 1
            if ["accuracy", "roc_auc", "macro_f1"].contains(fig) { lo = min(lo, 0.5); hi = 1 }
            if hi - lo < 1e-9 { lo -= 0.5; hi += 0.5 }
            func y(_ v: Double) -> Double { y0 + Self.panelHeight - (v - lo) / (hi - lo) * Self.panelHeight }
            o += ##"<g class="panel" data-figure="\##(fig)">"## + "\n"
            o += ##"<text x="\##(Self.left)" y="\##(y0 - 8)" font-weight="bold">\##(fig.replacingOccurrences(of: "_", with: " ")) (recent window, merged over workers)</text>"## + "\n"
            // Axes and ticks.
            o += ##"<line class="axis" data-axis="y" x1="\##(Self.left)" y1="\##(y0)" x2="\##(Self.left)" y2="\##(y0 + Self.panelHeight)" stroke="black"/>"## + "\n"
            o += ##"<line class="axis" data-axis="x" x1="\##(Self.left)" y1="\##(y0 + Self.panelHeight)" x2="\##(Self.left + plotW)" y2="\##(y0 + Self.panelHeight)" stroke="black"/>"## + "\n"
            for k in 0...4 {
                let v = lo + (hi - lo) * Double(k) / 4
                o += ##"<line x1="\##(Self.left - 4)" y1="\##(y(v))" x2="\##(Self.left + plotW)" y2="\##(y(v))" stroke="#e5e5e5"/>"##
                o += ##"<text class="tick" x="\##(Self.left - 8)" y="\##(y(v) + 4)" text-anchor="end">\##(String(format: "%.3f", v))</text>"## + "\n"
                let ms = Int64(t0 + (t1 - t0) * Double(k) / 4)
                o += ##"<text class="tick" x="\##(x(ms))" y="\##(y0 + Self.panelHeight + 16)" text-anchor="middle">\##(Self.clock(ms))</text>"## + "\n"
            }
            // Model versions and drift detections, as they changed between samples.
            for (a, b) in zip(samples, samples.dropFirst()) {
                if b.driftDetections > a.driftDetections {
                    o += ##"<line class="drift" x1="\##(x(b.wallMs))" y1="\##(y0)" x2="\##(x(b.wallMs))" y2="\##(y0 + Self.panelHeight)" stroke="#d62728" stroke-dasharray="4 3"/>"## + "\n"
                }
                if b.champion != a.champion {
                    o += ##"<line class="promotion" x1="\##(x(b.wallMs))" y1="\##(y0)" x2="\##(x(b.wallMs))" y2="\##(y0 + Self.panelHeight)" stroke="#2ca02c" stroke-width="2"/>"## + "\n"
                    o += ##"<text x="\##(x(b.wallMs) + 3)" y="\##(y0 + 12)" fill="#2ca02c">\##(Self.escape(b.champion)) champion (v\##(b.version))</text>"## + "\n"
                }
            }
            for (mi, name) in names.enumerated() {
                let points = samples.compactMap { s in s.models[name]?[fig].flatMap { $0.isFinite ? "\(x(s.wallMs)),\(y($0))" : nil } }
                guard !points.isEmpty else { continue }
                let color = Self.palette[mi % Self.palette.count]
                o += ##"<polyline class="series" data-model="\##(Self.escape(name))" fill="none" stroke="\##(color)" stroke-width="2" points="\##(points.joined(separator: " "))"/>"## + "\n"
            }
            o += "</g>\n"
        }
        // Legend: models, then the marks.
        var ly = Self.top
        for (mi, name) in names.enumerated() {
            let color = Self.palette[mi % Self.palette.count]
            o += ##"<line x1="\##(Self.width - Self.right + 15)" y1="\##(ly)" x2="\##(Self.width - Self.right + 40)" y2="\##(ly)" stroke="\##(color)" stroke-width="3"/>"##
            o += ##"<text class="legend" x="\##(Self.width - Self.right + 46)" y="\##(ly + 4)">\##(Self.escape(name))</text>"## + "\n"
            ly += 18
        }
        o += ##"<text x="\##(Self.width - Self.right + 15)" y="\##(ly + 10)" fill="#d62728">- - drift detected</text>"## + "\n"
        o += ##"<text x="\##(Self.width - Self.right + 15)" y="\##(ly + 28)">versions v\##(first.version)-v\##(last.version)</text>"## + "\n"
        o += "</svg>\n"
        return o
    }

    static func clock(_ ms: Int64) -> String {
        let f = DateFormatter()
        f.dateFormat = "HH:mm:ss"
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
