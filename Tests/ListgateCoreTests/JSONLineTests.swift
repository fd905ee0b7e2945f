// Specification of the NDJSON line writer and the URL-safe base64 the streams rely on.
import Foundation
import Testing
@testable import ListgateCore

@Suite("JSON lines")
struct JSONLineTests {
    func decoded(_ line: JSONLine) throws -> [String: Any] {
        let text = String(decoding: line.bytes, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        #expect(text.dropLast().firstIndex(of: "\n") == nil, "one object, one line")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.bytes.dropLast())) as? [String: Any])
    }

    @Test("hostile strings survive a round trip through a standard JSON parser unchanged")
    func roundTrip() throws {
        let hostile = ["quote \" and \\ backslash", "line\nbreak\r\ncr\ttab", "\u{0}nul \u{1F} unit \u{7F} del",
                       "週刊お知らせ 山田太郎", "separators \u{2028} \u{2029} end", "emoji 👩‍💻 and \u{E2}", "</script>"]
        for value in hostile {
            var line = JSONLine()
            line.field("value", value)
            line.field("none", nil)
            line.field("count", 42)
            line.endObject()
            let object = try decoded(line)
            #expect(object["value"] as? String == value)
            #expect(object["none"] is NSNull)
            #expect(object["count"] as? Int == 42)
        }
    }

    @Test("a character that needs escaping is found at every position, also inside eight-byte strides")
    func everyPosition() throws {
        for special in ["\"", "\\", "\n", "\u{1}", "\u{7F}", "\u{2028}", "é", "山"] {
            for position in 0...20 {
                let value = String(repeating: "a", count: position) + special + String(repeating: "b", count: 20 - position)
                var line = JSONLine()
                line.field("v", value)
                line.endObject()
                #expect(try decoded(line)["v"] as? String == value, "\(special.debugDescription) at \(position)")
            }
        }
    }

    @Test("line separators are escaped so a line is safe inside JavaScript too")
    func lineSeparatorsEscaped() {
        var line = JSONLine()
        line.field("v", "a\u{2028}b\u{2029}c")
        line.endObject()
        #expect(String(decoding: line.bytes, as: UTF8.self) == #"{"v":"a\u2028b\u2029c"}"# + "\n")
    }

    @Test("an object without fields is {} and take() starts the next batch empty")
    func emptyObjectAndTake() {
        var line = JSONLine()
        line.endObject()
        #expect(line.take() == Array("{}\n".utf8))
        #expect(line.bytes.isEmpty)
    }

    @Test("the table base64url encoder agrees with Foundation's base64 for every length")
    func base64URLMatchesFoundation() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let reference = Data(bytes).base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == reference)
            #expect(Base64URL.decode(reference) == bytes)
        }
    }
}
