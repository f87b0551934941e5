import Testing
import Config
import Coordinator
import ZeroMQ

/// The coordinator's ZAP decisions (who may connect, in which role) and the key files, without
/// sockets.
@Suite("Access policy")
struct AccessTests {
    func request(mechanism: String, key: [UInt8]) -> [[UInt8]] {
        [Array("1.0".utf8), Array("7".utf8), Array("tributary".utf8), Array("10.0.0.9".utf8), [], Array(mechanism.utf8), key]
    }

    @Test("a worker key is admitted as worker, a status key as status, anything else refused with 400")
    func zapDecisions() throws {
        let w = try CurveKeyPair.generate(), r = try CurveKeyPair.generate(), x = try CurveKeyPair.generate()
        var s = SecuritySection()
        s.workerKeys = [w.publicKey]
        s.statusKeys = [r.publicKey]
        let policy = AccessPolicy(s)
        func binary(_ k: String) -> [UInt8] {
            // The ZAP request carries the raw 32 bytes; z85 of them is the configured text.
            var out = [UInt8](repeating: 0, count: 32)
            #expect(zmqZ85Decode(k, into: &out))
            return out
        }
        let ok = policy.answer(request(mechanism: "CURVE", key: binary(w.publicKey)))
        #expect(ok.role == .worker && ok.key == w.publicKey)
        #expect(ok.reply.map { String(decoding: $0, as: UTF8.self) } == ["1.0", "7", "200", "OK", "worker", ""])
        #expect(policy.answer(request(mechanism: "CURVE", key: binary(r.publicKey))).role == .status)
        let no = policy.answer(request(mechanism: "CURVE", key: binary(x.publicKey)))
        #expect(no.role == nil && no.address == "10.0.0.9")
        #expect(String(decoding: no.reply[2], as: UTF8.self) == "400")
        #expect(policy.answer(request(mechanism: "NULL", key: [])).role == nil)
        #expect(String(decoding: policy.answer([[1]]).reply[2], as: UTF8.self) == "500")
    }

    @Test("key files: generated pairs round-trip through the text format; the public key follows from the secret")
    func keyFiles() throws {
        let pair = try CurveKeyPair.generate()
        #expect(CurveKeyText.isKey(pair.publicKey) && CurveKeyText.isKey(pair.secretKey))
        let text = CurveKeyText.format(publicKey: pair.publicKey, secretKey: pair.secretKey, name: "w1")
        let parsed = CurveKeyText.parse(text)
        #expect(parsed.publicKey == pair.publicKey && parsed.secretKey == pair.secretKey)
        #expect(CurveKeyPair(secretKey: pair.secretKey) == pair)
        #expect(CurveKeyPair(secretKey: String(repeating: "\"", count: 40)) == nil, "not Z85")
        #expect(CurveKeyPair(secretKey: pair.secretKey + "abcde") == nil, "too long for a key")
        #expect(CurveKeyText.parse(pair.publicKey + "\n").publicKey == pair.publicKey)
        #expect(!CurveKeyText.isKey("short") && !CurveKeyText.isKey(String(repeating: "\"", count: 40)))
    }
}
