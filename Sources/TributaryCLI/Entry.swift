import ArgumentParser
import Foundation
import Config
import Coordinator
import Kafka
import Runtime
import Wire
import Worker
import ZeroMQ

/// The process entry: swift-log and swift-metrics get their backends before any command makes
/// a logger or a metric, then the command line runs.
@main
enum Entry {
    static func main() async {
        Log.bootstrap()
        ProcessMetrics.bootstrap()
        await Tributary.main()
    }
}
