// The subscribe form with an address typed with the IME on: it is converted to ASCII
// before it is checked, and the ASCII form is what is stored (the submission) and mailed.
import Foundation
import ListgateServer
import Testing

@Suite("Subscribe form: what a Japanese keyboard types")
struct FullWidthAddressFormTests {
    @Test("a full-width address is accepted, stored and mailed in its ASCII form")
    func fullWidthAddress() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let page = try await client.post("/lists/news/subscribe", form: ["email": "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ\u{3000}"])
            #expect(page.status == .ok)
        }
        #expect(try await fixture.queuedMessages().map(\.recipient) == ["taro@example.jp"])
        #expect(try await fixture.count("submissions", where: "email = 'taro@example.jp'") == 1)
    }

    @Test("a full-width address that is still wrong after conversion is refused as a bad address")
    func stillInvalid() async throws {
        let fixture = try await ServerFixture()
        try await fixture.test { client in
            let api = try await client.post("/lists/news/subscribe", form: ["email": "ｔａｒｏ＠ｌｏｃａｌｈｏｓｔ"], json: true)
            #expect(api.status == .unprocessableContent)
            #expect(api.text.contains("\"code\":\"invalid_email\""))
        }
        #expect(try await fixture.count("outbox") == 0)
    }
}
