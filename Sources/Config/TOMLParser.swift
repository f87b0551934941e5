public enum TOMLParser {
    public static func parse(_ text: String) throws(ConfigError) -> TOMLTable {
        var p = Parser(bytes: Array(text.utf8))
        return try p.document()
    }
}
