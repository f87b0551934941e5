extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
