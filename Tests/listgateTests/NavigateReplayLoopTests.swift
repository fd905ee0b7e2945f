// The Navigate incident (README, "Why listgate exists") replayed through the built binary on
// each store: 30 readers subscribe and confirm through the real server, then form posts
// full of names, company names and links arrive. Every mail that reaches the SMTP server
// goes to its submitter alone and carries none of the typed text. (NavigateReplayTests in
// the server's tests replays it in process; this one runs the whole binary, on PostgreSQL too.)
import Foundation
import ListgateTestSupport
import Testing

@Suite("Navigate replay through the binary", .serialized)
struct NavigateReplayLoopTests {
    @Test("form posts reach only their submitters and echo none of the typed text", arguments: StoreKind.underTest)
    func navigateReplay(_ kind: StoreKind) async throws {
        let server = try await RunningServer(kind, environment: ["LISTGATE_RATE_LIMITS": "off"], baseURLFromPort: true)
        let readers = (0..<30).map { "reader\($0)@example.com" }
        for (index, reader) in readers.enumerated() {
            #expect(try await server.request("POST", "/lists/news/subscribe", form: ["email": reader]).status == 200)
            let mail = try #require(try await server.sink.waitForMessages(count: index + 1, timeout: .seconds(10)).last)
            #expect(mail.rcptTos == [reader])
            let text = try #require(try MailInspector.inspect(mail.data).text)
            let confirm = try #require(text.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix(server.base + "/confirm/") })
            #expect(try await server.request("POST", String(confirm)).status == 200)
        }
        #expect(try await server.activeCount() == 30)

        let typed = [
            ("stop@example.net", "株式会社ナビゲート 営業部 鈴木様"),
            ("unsubscribe-me@example.net", "Please remove me https://spam.example/offer"),
            ("third@example.net", "<a href=\"https://phish.example\">click</a>"),
        ]
        for (email, name) in typed {
            let answer = try await server.request(
                "POST", "/lists/news/subscribe", form: ["email": email, "name": name, "company": "Navigate Inc."])
            #expect(answer.status == 200)
        }
        let received = try await server.sink.waitForMessages(count: 33, timeout: .seconds(15)).suffix(3)
        #expect(Set(received.map(\.rcptTos)) == Set(typed.map { [$0.0] }), "each submitter got one mail")
        for message in received {
            let mail = try MailInspector.inspect(message.data)
            for fragment in typed.map(\.1) + ["Navigate Inc.", "spam.example", "phish.example", "鈴木"] {
                #expect(!message.text.contains(fragment) && !(mail.text ?? "").contains(fragment)
                        && !(mail.html ?? "").contains(fragment))
            }
            #expect(mail.to == message.rcptTos)
            #expect(Set(readers).isDisjoint(with: message.rcptTos), "no subscriber received a form's mail")
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try server.sink.messages().count == 33, "nothing more was sent")
    }
}
