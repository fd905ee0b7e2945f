// `multipart/form-data` bodies as RFC 7578 writes them, and what is refused.
@testable import ListgateServer
import Testing

@Suite("multipart/form-data")
struct MultipartFormDataTests {
    func body(_ lines: [String]) -> [UInt8] { Array(lines.joined(separator: "\r\n").utf8) }

    @Test("fields by name, with a preamble, a quoted boundary, escapes and an empty value")
    func fields() throws {
        let form = try #require(MultipartFormData(body: body([
            "a preamble to ignore",
            "--XyZ", #"Content-Disposition: form-data; name="List-Unsubscribe""#, "Content-Type: text/plain", "", "One-Click",
            "--XyZ", #"content-disposition: form-data; name="say \"hi\"""#, "", "two\r\nlines",
            "--XyZ", "Content-Disposition: form-data; name=empty", "", "",
            "--XyZ--", "an epilogue",
        ]), contentType: #"multipart/form-data; charset=utf-8; boundary="XyZ""#))
        #expect(form.fields.map(\.name) == ["List-Unsubscribe", #"say "hi""#, "empty"])
        #expect(form.fields.map(\.text) == ["One-Click", "two\r\nlines", ""])
    }

    @Test("the one-click field is found in either encoding, and only the exact value counts")
    func oneClick() {
        let multipart = body(["--b", #"Content-Disposition: form-data; name="List-Unsubscribe""#, "", "One-Click", "--b--"])
        #expect(OneClickUnsubscribe.isRequested(body: multipart, contentType: "multipart/form-data; boundary=b"))
        #expect(OneClickUnsubscribe.isRequested(body: Array("List-Unsubscribe=One-Click".utf8), contentType: "application/x-www-form-urlencoded"))
        #expect(OneClickUnsubscribe.isRequested(body: Array("a=1&List-Unsubscribe=One-Click".utf8), contentType: nil))
        let other = body(["--b", #"Content-Disposition: form-data; name="List-Unsubscribe""#, "", "Not-Me", "--b--"])
        #expect(!OneClickUnsubscribe.isRequested(body: other, contentType: "multipart/form-data; boundary=b"))
        #expect(!OneClickUnsubscribe.isRequested(body: multipart, contentType: "multipart/form-data; boundary=c"))
    }

    @Test("malformed bodies are refused", arguments: [
        ["--b", #"Content-Disposition: form-data; name="x""#, "", "unterminated"],  // no closing delimiter
        ["--b", "Content-Type: text/plain", "", "no disposition", "--b--"],
        ["--b", #"Content-Disposition: attachment; name="x""#, "", "not form-data", "--b--"],
        ["--b", #"Content-Disposition: form-data; name="x"#, "", "unterminated quote", "--b--"],
        ["--bb", #"Content-Disposition: form-data; name="x""#, "", "other boundary", "--bb--"],
        ["no delimiter at all"],
    ])
    func malformed(lines: [String]) {
        #expect(MultipartFormData(body: body(lines), contentType: "multipart/form-data; boundary=b") == nil)
    }

    @Test("only multipart/form-data with a boundary of 1 to 70 characters")
    func boundary() {
        #expect(MultipartFormData.boundary(in: "multipart/form-data; boundary=abc") == "abc")
        #expect(MultipartFormData.boundary(in: #"Multipart/Form-Data;boundary="a b""#) == "a b")
        #expect(MultipartFormData.boundary(in: "multipart/mixed; boundary=abc") == nil)
        #expect(MultipartFormData.boundary(in: "multipart/form-data") == nil)
        #expect(MultipartFormData.boundary(in: "multipart/form-data; boundary=" + String(repeating: "x", count: 71)) == nil)
    }

    @Test("at most 32 parts")
    func partLimit() {
        let part = ["--b", #"Content-Disposition: form-data; name="x""#, "", "1"]
        let lines = Array(repeating: part, count: MultipartFormData.maximumParts + 1).flatMap { $0 } + ["--b--"]
        #expect(MultipartFormData(body: body(lines), contentType: "multipart/form-data; boundary=b") == nil)
        let fits = Array(repeating: part, count: MultipartFormData.maximumParts).flatMap { $0 } + ["--b--"]
        #expect(MultipartFormData(body: body(fits), contentType: "multipart/form-data; boundary=b")?.fields.count == 32)
    }
}
