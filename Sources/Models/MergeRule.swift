public enum MergeRule: String, Sendable, Codable, CaseIterable {
    case average, sum
}
