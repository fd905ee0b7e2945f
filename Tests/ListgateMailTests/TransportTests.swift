// The transports against a real SMTP server (Tests/Support/smtp_sink.py, aiosmtpd) and
// a real directory: envelopes, bytes on the wire, connection reuse, failure classes.
import Foundation
import ListgateCore
import ListgateMail
import ListgateTestSupport
import Testing

private let sender = try! EmailAddress("confirm@lists.example.org")

private func recipient(_ address: String) throws -> Recipient {
    try Recipient(EmailAddress(address))
}

/// A small RFC 5322 message with CRLF line ends. Its body has lines that SMTP must
/// dot-stuff: one starting with ".", one starting with "..", and one that is only ".".
private func rfc5322Message(to recipient: Recipient, subject: String = "Please confirm") -> [UInt8] {
    let lines = [
        "From: Example list <confirm@lists.example.org>",
        "To: <\(recipient.path)>",
        "Subject: \(subject)",
        "Date: Tue, 01 Apr 2025 09:00:00 +0000",
        "Message-ID: <\(UUID().uuidString)@lists.example.org>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Hello,",
        ".this line starts with a dot",
        "..and this one with two",
        ".",
        "Thanks.",
    ]
    return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
}

/// Runs `body` and returns the DeliveryError it throws, or nil if it succeeds.
private func deliveryError(_ body: () async throws(DeliveryError) -> Void) async -> DeliveryError? {
    do {
        try await body()
        return nil
    } catch {
        return error
    }
}

@Suite("SMTP transport through libcurl")
struct CurlSMTPTransportTests {
    @Test("one message arrives as one envelope with its one recipient and exactly the bytes sent")
    func oneMessage() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let alice = try recipient("alice@example.org")
        let message = rfc5322Message(to: alice)

        try await transport.send(message, from: sender, to: alice)

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.count == 1)
        let envelope = try #require(received.first)
        #expect(envelope.mailFrom == sender.smtpPath)
        #expect(envelope.rcptTos == [alice.path])
        // Dot-stuffing is transparent: the server's unstuffed data is the message itself.
        #expect(envelope.data == message)
        #expect(envelope.text.contains("\r\n.this line starts with a dot\r\n..and this one with two\r\n.\r\nThanks.\r\n"))
        #expect(envelope.mailOptions.contains("SIZE=\(message.count)"))
    }

    @Test("a message without a final line break arrives with exactly one CRLF added")
    func missingFinalCRLF() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let bob = try recipient("bob@example.org")
        var message = rfc5322Message(to: bob)
        message.removeLast(2)

        try await transport.send(message, from: sender, to: bob)

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.first?.data == message + Array("\r\n".utf8))
    }

    @Test("fifty messages through one transport travel over one SMTP connection, one recipient each")
    func connectionReuse() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let recipients = try (1...50).map { try recipient("member\($0)@example.org") }

        for member in recipients {
            try await transport.send(rfc5322Message(to: member, subject: "Welcome \(member.path)"), from: sender, to: member)
        }

        let received = try await sink.waitForMessages(count: 50, timeout: .seconds(10))
        #expect(received.count == 50)
        #expect(received.map(\.rcptTos) == recipients.map { [$0.path] })
        #expect(Set(received.map(\.session)).count == 1, "sessions seen: \(Set(received.map(\.session)))")
    }

    @Test("concurrent sends on one transport are serialised onto its one connection")
    func concurrentSends() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let recipients = try (1...20).map { try recipient("parallel\($0)@example.org") }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for member in recipients {
                group.addTask { try await transport.send(rfc5322Message(to: member), from: sender, to: member) }
            }
            try await group.waitForAll()
        }

        let received = try await sink.waitForMessages(count: 20, timeout: .seconds(10))
        #expect(received.count == 20)
        #expect(Set(received.flatMap(\.rcptTos)) == Set(recipients.map(\.path)))
        #expect(received.allSatisfy { $0.rcptTos.count == 1 })
        #expect(Set(received.map(\.session)).count == 1)
    }

    @Test("a transport with two connections spreads concurrent sends over two sessions, one recipient each")
    func connectionPool() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url, connections: 2)
        let recipients = try (1...20).map { try recipient("pooled\($0)@example.org") }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for member in recipients {
                group.addTask { try await transport.send(rfc5322Message(to: member), from: sender, to: member) }
            }
            try await group.waitForAll()
        }

        let received = try await sink.waitForMessages(count: 20, timeout: .seconds(10))
        #expect(Set(received.flatMap(\.rcptTos)) == Set(recipients.map(\.path)))
        #expect(received.allSatisfy { $0.rcptTos.count == 1 })
        #expect(Set(received.map(\.session)).count == 2, "sessions seen: \(Set(received.map(\.session)))")
    }

    @Test("a 451 reply to RCPT TO is a transient failure carrying the server's reply")
    func temporaryFailure() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let later = try recipient("tempfail-1@example.org")

        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: later), from: sender, to: later)
        }

        let failure = try #require(error)
        #expect(!failure.isPermanent)
        #expect(failure.reason.contains("451 4.3.0 try again later"), "\(failure)")
        #expect(try sink.messages().isEmpty)
    }

    @Test("a 550 reply to RCPT TO is a permanent failure carrying the server's reply")
    func permanentFailure() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let nobody = try recipient("reject-me@example.org")

        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: nobody), from: sender, to: nobody)
        }

        let failure = try #require(error)
        #expect(failure.isPermanent)
        #expect(failure.reason.contains("550 5.1.1 no such user"), "\(failure)")
        #expect(try sink.messages().isEmpty)
    }

    @Test("a reply quoting the recipient's address is carried with the address redacted", arguments: [
        ("unknown-bob@example.org", "550 5.1.1 <[redacted]>: Recipient address rejected: User unknown", true),
        ("greylist-bob@example.org", "450 4.2.0 <[redacted]>: Recipient address rejected: Greylisted", false),
    ])
    func replyQuotingAddress(_ address: String, _ reply: String, _ permanent: Bool) async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let bob = try recipient(address)

        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: bob), from: sender, to: bob)
        }

        let failure = try #require(error)
        #expect(failure.isPermanent == permanent)
        #expect(failure.reason.contains(reply), "\(failure)")
        #expect(!failure.description.contains("bob"), "\(failure)")
        #expect(!failure.description.contains("@"), "\(failure)")
    }

    @Test("a port where nothing listens is a transient failure, and the same transport delivers once a server is there")
    func nothingListening() async throws {
        let port = try freeLoopbackPort()
        let transport = try CurlSMTPTransport(url: "smtp://127.0.0.1:\(port)", connectTimeout: .seconds(2))
        let carol = try recipient("carol@example.org")

        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: carol), from: sender, to: carol)
        }
        let failure = try #require(error)
        #expect(!failure.isPermanent)
        #expect(failure.reason.contains("\(port)"), "\(failure)")

        let sink = try SMTPSink.start(port: port)
        try await transport.send(rfc5322Message(to: carol), from: sender, to: carol)
        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.map(\.rcptTos) == [[carol.path]])
    }

    @Test("after a refused recipient and an outage, the next message is delivered")
    func recoveryAfterFailures() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let dave = try recipient("dave@example.org")
        let refused = try recipient("tempfail@example.org")

        let first = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: refused), from: sender, to: refused)
        }
        #expect(first.map { !$0.isPermanent } == true)

        try sink.failNextRecipients(2)
        for _ in 1...2 {
            let outage = await deliveryError { () async throws(DeliveryError) in
                try await transport.send(rfc5322Message(to: dave), from: sender, to: dave)
            }
            #expect(outage.map { !$0.isPermanent } == true)
        }

        try await transport.send(rfc5322Message(to: dave), from: sender, to: dave)
        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.map(\.rcptTos) == [[dave.path]])
    }

    @Test("a server slower than the timeout is a transient failure, and the next message is delivered")
    func timeout() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url, timeout: .milliseconds(300))
        let slow = try recipient("slow@example.org")
        let erin = try recipient("erin@example.org")

        // The server answers the final "." after 2 s: long after the 300 ms timeout.
        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: slow), from: sender, to: slow)
        }
        let failure = try #require(error)
        #expect(!failure.isPermanent)
        #expect(failure.reason.lowercased().contains("timeout") || failure.reason.lowercased().contains("timed out"), "\(failure)")

        // Not stuck behind the abandoned connection (whose server is still sleeping):
        // a fresh connection carries the next message.
        try await transport.send(rfc5322Message(to: erin), from: sender, to: erin)
        // Whether the server still records the slow message after the client gave up
        // (the duplicate risk of any SMTP client that loses the reply to the final ".")
        // depends on timing; the next message must arrive either way.
        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.map(\.rcptTos).contains([erin.path]))
    }

    @Test("after the server restarts, the next message goes out over a new connection")
    func serverRestart() async throws {
        let first = try SMTPSink.start()
        let port = first.port
        let transport = try CurlSMTPTransport(url: first.url)
        let frank = try recipient("frank@example.org")
        try await transport.send(rfc5322Message(to: frank), from: sender, to: frank)
        #expect(try first.messages().count == 1)
        first.stop()

        let second = try SMTPSink.start(port: port)
        try await transport.send(rfc5322Message(to: frank), from: sender, to: frank)
        let received = try await second.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.map(\.rcptTos) == [[frank.path]])
    }

    @Test("a recipient with a non-ASCII local part is sent as SMTPUTF8 with that exact RCPT TO")
    func smtpUTF8() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let yamada = try recipient("山田@example.jp")
        let message = rfc5322Message(to: yamada, subject: "確認のお願い")

        try await transport.send(message, from: sender, to: yamada)

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.first?.rcptTos == ["山田@example.jp"])
        #expect(received.first?.mailOptions.contains("SMTPUTF8") == true)
        #expect(received.first?.data == message)
    }

    @Test("an IDN domain travels as its A-label")
    func idnDomain() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url)
        let member = try recipient("info@例え.jp")

        try await transport.send(rfc5322Message(to: member), from: sender, to: member)

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.first?.rcptTos == ["info@xn--r8jz45g.jp"])
        #expect(received.first?.mailOptions.contains("SMTPUTF8") == false)
    }

    @Test("with a user name and password the transport authenticates and delivers (in the clear only when told so)")
    func authentication() async throws {
        let sink = try SMTPSink.start(options: ["--auth"])
        let transport = try CurlSMTPTransport(url: sink.url, username: "listgate", password: "s3cret", tls: .opportunistic)
        let grace = try recipient("grace@example.org")

        try await transport.send(rfc5322Message(to: grace), from: sender, to: grace)

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.first?.rcptTos == [grace.path])
        #expect(received.first?.authLogin == "listgate")
    }

    @Test("with TLS required, a server that does not offer STARTTLS gets no mail, and the failure is temporary and says why")
    func tlsRequiredWithoutSTARTTLS() async throws {
        let sink = try SMTPSink.start()
        let transport = try CurlSMTPTransport(url: sink.url, tls: .require)
        let ivan = try recipient("ivan@example.org")

        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: ivan), from: sender, to: ivan)
        }

        #expect(error?.isPermanent == false, "the message waits until TLS is possible: \(String(describing: error))")
        #expect(error?.reason.contains("does not offer STARTTLS") == true, "\(String(describing: error))")
        #expect(try sink.messageCount() == 0)
    }

    @Test("credentials alone make TLS required: a server without STARTTLS gets neither the password nor the mail")
    func credentialsRequireTLS() async throws {
        let sink = try SMTPSink.start(options: ["--auth"])
        let transport = try CurlSMTPTransport(url: sink.url, username: "listgate", password: "s3cret")
        let judy = try recipient("judy@example.org")

        let error = await deliveryError { () async throws(DeliveryError) in
            try await transport.send(rfc5322Message(to: judy), from: sender, to: judy)
        }

        #expect(error?.reason.contains("does not offer STARTTLS") == true, "\(String(describing: error))")
        #expect(try sink.messageCount() == 0)
    }

    @Test("without credentials the transport does not authenticate")
    func noAuthentication() async throws {
        let sink = try SMTPSink.start(options: ["--auth"])
        let transport = try CurlSMTPTransport(url: sink.url)
        let heidi = try recipient("heidi@example.org")

        try await transport.send(rfc5322Message(to: heidi), from: sender, to: heidi)

        let received = try await sink.waitForMessages(count: 1, timeout: .seconds(5))
        #expect(received.first?.authLogin == nil)
    }
}

@Suite("File transport")
struct FileTransportTests {
    private func scratchDirectory() -> URL {
        FileManager.default.temporaryDirectory
            .appendingPathComponent("listgate-file-transport-\(UUID().uuidString)", isDirectory: true)
    }

    @Test("each message becomes one .eml file holding exactly its bytes, in a directory created on demand")
    func writesOneFile() async throws {
        let root = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("outbox/nested", isDirectory: true)
        let transport = FileTransport(directory: directory)
        let ivan = try recipient("ivan@example.org")
        let message = rfc5322Message(to: ivan)

        try await transport.send(message, from: sender, to: ivan)

        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(names.count == 1, "\(names)")
        let name = try #require(names.first)
        #expect(name.wholeMatch(of: /\d{8}-\d{6}-\d{3}-[0-9a-f]{8}\.eml/) != nil, "\(name)")
        let written = try Data(contentsOf: directory.appendingPathComponent(name))
        #expect([UInt8](written) == message)
    }

    @Test("file names are the UTC time to the millisecond and sort in sending order")
    func fileNames() async throws {
        let root = scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let transport = FileTransport(directory: root)
        let judy = try recipient("judy@example.org")
        let before = Date()
        for index in 1...3 {
            try await transport.send(rfc5322Message(to: judy, subject: "n\(index)"), from: sender, to: judy)
            try await Task.sleep(for: .milliseconds(3))
        }

        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        #expect(names.count == 3)
        let contents = try names.map { try String(contentsOf: root.appendingPathComponent($0), encoding: .utf8) }
        #expect(contents.map { $0.contains("Subject: n1\r\n") } == [true, false, false])
        #expect(contents.map { $0.contains("Subject: n3\r\n") } == [false, false, true])
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss-SSS"
        let first = try #require(names.first)
        let stamp = try #require(formatter.date(from: String(first.prefix(19))))
        #expect(abs(stamp.timeIntervalSince(before)) < 5)
    }
}

@Suite("Transport configuration")
struct TransportConfigurationTests {
    @Test("smtp:// without credentials builds a libcurl transport that upgrades with STARTTLS when offered")
    func smtpURL() throws {
        let transport = try TransportConfiguration.make(url: "smtp://mail.example.org:2525", username: nil, password: nil)
        let smtp = try #require(transport as? CurlSMTPTransport)
        #expect(smtp.endpoint.host == "mail.example.org")
        #expect(smtp.endpoint.port == 2525)
        #expect(smtp.endpoint.security == .startTLSIfOffered)
        #expect(smtp.endpoint.url == "smtp://mail.example.org:2525")
    }

    @Test("smtp:// with credentials and no TLS mode requires STARTTLS", arguments: [("u", "p"), ("u", nil), (nil, "p")] as [(String?, String?)])
    func credentialsMeanRequire(username: String?, password: String?) throws {
        let transport = try TransportConfiguration.make(url: "smtp://mail.example.org", username: username, password: password)
        let smtp = try #require(transport as? CurlSMTPTransport)
        #expect(smtp.endpoint.security == .startTLSRequired)
    }

    @Test("empty credentials are no credentials: STARTTLS when offered")
    func emptyCredentials() throws {
        #expect(SMTPTLSMode.defaultMode(username: "", password: "") == .opportunistic)
        #expect(SMTPTLSMode.defaultMode(username: nil, password: nil) == .opportunistic)
    }

    @Test("an explicit TLS mode decides for smtp://, credentials or not", arguments: [
        (SMTPTLSMode.require, SMTPEndpoint.Security.startTLSRequired),
        (.opportunistic, .startTLSIfOffered),
        (.plain, .plain),
    ])
    func explicitMode(mode: SMTPTLSMode, security: SMTPEndpoint.Security) throws {
        let transport = try TransportConfiguration.make(url: "smtp://mail.example.org", username: "u", password: "p", tls: mode)
        #expect((transport as? CurlSMTPTransport)?.endpoint.security == security)
    }

    @Test("smtps:// is TLS whatever the mode, and the mode none is refused for it")
    func smtpsIgnoresMode() throws {
        for mode in [SMTPTLSMode.require, .opportunistic] {
            let transport = try TransportConfiguration.make(url: "smtps://mail.example.org", username: nil, password: nil, tls: mode)
            #expect((transport as? CurlSMTPTransport)?.endpoint.security == .implicitTLS)
        }
        #expect {
            _ = try TransportConfiguration.make(url: "smtps://mail.example.org", username: nil, password: nil, tls: .plain)
        } throws: { error in
            (error as? TransportConfigurationError)?.reason.contains("always TLS") == true
        }
    }

    @Test("smtps:// builds a libcurl transport over implicit TLS, port 465 by default")
    func smtpsURL() throws {
        let transport = try TransportConfiguration.make(url: "smtps://mail.example.org", username: "u", password: "p")
        let smtp = try #require(transport as? CurlSMTPTransport)
        #expect(smtp.endpoint.security == .implicitTLS)
        #expect(smtp.endpoint.port == 465)
        // Schemes are case-insensitive; smtp's default port is 25.
        let upper = try #require(try TransportConfiguration.make(url: "SMTP://mail.example.org", username: nil, password: nil) as? CurlSMTPTransport)
        #expect(upper.endpoint.security == .startTLSIfOffered)
        #expect(upper.endpoint.port == 25)
    }

    @Test("SMTP URLs keep their host, port and EHLO path", arguments: [
        ("smtp://127.0.0.1:2525", "127.0.0.1", 2525),
        ("smtp://[::1]:2525", "[::1]", 2525),
        ("smtp://mail.example.org/client.example.org", "mail.example.org", 25),
        (" smtps://mail.example.org:4650 ", "mail.example.org", 4650),
    ])
    func acceptedSMTPURLs(url: String, host: String, port: Int) throws {
        guard case .smtp(let endpoint) = try TransportConfiguration(url: url, tls: .opportunistic) else {
            Issue.record("\(url) did not give an SMTP endpoint")
            return
        }
        #expect(endpoint.host == host)
        #expect(endpoint.port == port)
        #expect(endpoint.url == url.trimmingCharacters(in: .whitespaces))
    }

    @Test("file:///dir builds a file transport for that directory")
    func fileURL() throws {
        let transport = try TransportConfiguration.make(url: "file:///var/spool/listgate%20mail", username: nil, password: nil)
        let files = try #require(transport as? FileTransport)
        #expect(files.directory.path == "/var/spool/listgate mail")
    }

    @Test("no URL means files in ./mail-outbox", arguments: [nil, "", "  "] as [String?])
    func defaultOutbox(url: String?) throws {
        let transport = try TransportConfiguration.make(url: url, username: nil, password: nil)
        let files = try #require(transport as? FileTransport)
        let expected = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            .appendingPathComponent("mail-outbox").standardizedFileURL.path
        #expect(files.directory.standardizedFileURL.path == expected)
    }

    @Test("unusable URLs are refused with a reason", arguments: [
        ("http://x", "scheme \"http\" is not supported"),
        ("smtp://", "no host"),
        ("smtps://:465", "no host"),
        ("mail.example.org:25", "scheme \"mail.example.org\" is not supported"),
        ("mail.example.org", "no scheme"),
        ("file:relative/dir", "absolute"),
        ("file://otherhost/dir", "cannot name a host"),
        ("smtp://user:hunter2@mail.example.org", "not in the URL"),
        ("smtp://mail.example.org:70000", "not between 1 and 65535"),
    ])
    func refused(url: String, reason: String) {
        #expect {
            _ = try TransportConfiguration.make(url: url, username: nil, password: nil)
        } throws: { error in
            guard let error = error as? TransportConfigurationError else { return false }
            return error.reason.contains(reason) && !error.description.contains("hunter2")
        }
    }
}

@Suite("SMTP sink (test support)")
struct SMTPSinkTests {
    @Test("a sink cannot start on a port another sink holds, and says why")
    func busyPort() throws {
        let first = try SMTPSink.start()
        #expect {
            _ = try SMTPSink.start(port: first.port)
        } throws: { error in
            "\(error)".contains("exited with status") && "\(error)".contains("\(first.port)")
        }
    }
}
