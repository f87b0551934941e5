/// The key files `tributary keys generate NAME` writes, and what reads them:
///
///     # CURVE key pair (NAME.key: keep it private)
///     public = "<40 Z85 characters>"
///     secret = "<40 Z85 characters>"
///
/// `NAME.pub` holds the `public` line only. A reader also takes a bare key on a line.
public enum CurveKeyText {
    static let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// 40 characters of the Z85 alphabet: the text form of a 32-byte key.
    public static func isKey(_ s: String) -> Bool {
        s.utf8.count == 40 && s.utf8.allSatisfy { alphabet.contains($0) }
    }

    /// The `public` and `secret` keys in a key file's text (a bare key counts as public).
    public static func parse(_ text: String) -> (publicKey: String?, secretKey: String?) {
        var pub: String?, sec: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if isKey(line) { pub = pub ?? line; continue }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            var v = parts[1]
            if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
            guard isKey(v) else { continue }
            if parts[0] == "public" { pub = v }
            if parts[0] == "secret" { sec = v }
        }
        return (pub, sec)
    }

    public static func format(publicKey: String, secretKey: String?, name: String) -> String {
        var s = secretKey == nil ? "# CURVE public key of \(name) (share it: it goes into cluster.conf or --server-key)\n"
                                 : "# CURVE key pair of \(name) (keep this file private)\n"
        s += "public = \"\(publicKey)\"\n"
        if let secretKey { s += "secret = \"\(secretKey)\"\n" }
        return s
    }
}
