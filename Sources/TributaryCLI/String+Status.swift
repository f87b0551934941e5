import ArgumentParser
import Foundation
import Runtime
import Wire
import ZeroMQ

extension String {
    func padding(_ n: Int) -> String {
        count >= n ? String(prefix(n - 1)) + " " : self + String(repeating: " ", count: n - count)
    }
}
