import Foundation

/// A view that refreshes: on a terminal it is redrawn in place, as `top` does; into a pipe or
/// a file each refresh is appended, after a line with the time, so logs read in order.
enum LiveView {
    static let isTerminal = isatty(1) != 0

    static func show(_ text: String) {
        if isTerminal {
            // Home, draw, then clear what an earlier, longer frame left below.
            say("\u{1B}[H" + text.replacingOccurrences(of: "\n", with: "\u{1B}[K\n") + "\u{1B}[K\u{1B}[J")
        } else {
            let f = DateFormatter()
            f.dateFormat = "HH:mm:ss"
            say("\n--- \(f.string(from: Date()))\n" + text)
        }
    }

    /// Clears the terminal once before the first frame (nothing into a pipe).
    static func begin() {
        if isTerminal { FileHandle.standardOutput.write(Data("\u{1B}[2J\u{1B}[H".utf8)) }
    }
}
