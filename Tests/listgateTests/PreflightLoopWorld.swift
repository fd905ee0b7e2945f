// The sender's loop through the built binary, for the preflight's replays: a running
// server whose `news` shows the sender's identity and has 300 members plus 田中; a sender
// token; a snapshot taken with the count it expects; and 田中's line from the recipients
// stream, which is all a sender has to render 田中's copy of the newsletter.
import Foundation
import ListgateTestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct PreflightLoopWorld {
    static let legalName = "株式会社サンプル"
    static let postalAddress = "〒100-0001 東京都千代田区千代田1-1 サンプルビル5階"
    static let contact = "https://example.org/contact"
    /// The 300 customers of the incidents' files.
    static let members = (0..<300).map { "customer\($0)@example.jp" }
    static let recipient = "tanaka@example.jp"

    let server: RunningServer
    let token: String
    let snapshotID: String
    /// 田中's line of the recipients stream.
    let line: [String: Any]

    init(_ kind: StoreKind) async throws {
        server = try await RunningServer(kind, baseURLFromPort: true)
        let workspace = server.workspace
        let updated = try workspace.listgate(
            "lists", "update", "news", "--legal-name", Self.legalName, "--postal-address", Self.postalAddress,
            "--contact", Self.contact)
        #expect(updated.status == 0, "\(updated.stderr)")
        let file = workspace.url.appendingPathComponent("customers.csv").path
        try ("email\n" + (Self.members + [Self.recipient]).joined(separator: "\n") + "\n")
            .write(toFile: file, atomically: true, encoding: .utf8)
        let imported = try workspace.listgate("import", file, "--list", "news", "--consent-note", "signed up at the 2020 fair")
        #expect(imported.status == 0, "\(imported.stderr)")
        token = try workspace.listgate("tokens", "create", "--list", "news").stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let taken = try await Self.call(
            server, "POST", "/api/v1/lists/news/snapshots", token: token, contentType: "application/json",
            body: Data(#"{"expect_count": 301}"#.utf8))
        #expect(taken.status == 201)
        snapshotID = try #require(try taken.object()["id"] as? String)
        let stream = try await Self.call(server, "GET", "/api/v1/snapshots/\(snapshotID)/recipients", token: token)
        let lines = try String(decoding: stream.data, as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        line = try #require(lines.first { $0["email"] as? String == Self.recipient })
    }

    /// 田中's copy of a correct newsletter, as the sender renders it from the stream's line.
    var newsletter: Newsletter {
        var newsletter = Newsletter(
            to: Self.recipient, unsubscribeLink: line["unsubscribe_url"] as? String ?? "", legalName: Self.legalName,
            postalAddress: Self.postalAddress, contact: Self.contact)
        newsletter.listUnsubscribe = line["list_unsubscribe"] as? String
        return newsletter
    }

    func preflight(_ message: [UInt8]) async throws -> APIAnswer {
        try await Self.call(
            server, "POST", "/api/v1/snapshots/\(snapshotID)/preflight", token: token, contentType: "message/rfc822",
            body: Data(message))
    }

    static func call(
        _ server: RunningServer, _ method: String, _ path: String, token: String, contentType: String? = nil, body: Data? = nil
    ) async throws -> APIAnswer {
        var request = URLRequest(url: URL(string: server.base + path)!)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return APIAnswer(status: http.statusCode, headers: http.allHeaderFields, data: data)
    }
}

extension APIAnswer {
    var problemCodes: [String] {
        ((try? object())?["problems"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    var text: String { String(decoding: data, as: UTF8.self) }
}
