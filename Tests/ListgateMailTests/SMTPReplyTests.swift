// Specification of SMTPReply.redacted: every address a server quotes in its reply is
// gone before the reply reaches a log line or the outbox's last_error; the rest of the
// reply, which says what went wrong, is kept.
import ListgateMail
import Testing

@Suite("SMTP reply redaction")
struct SMTPReplyTests {
    static let examples: [(String, String)] = [
        ("550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
         "550 5.1.1 <[redacted]>: Recipient address rejected: User unknown in virtual mailbox table"),
        ("450 4.2.0 <bob+news@example.com>: Recipient address rejected: Greylisted",
         "450 4.2.0 <[redacted]>: Recipient address rejected: Greylisted"),
        ("550 5.1.1 bob@example.com... User unknown", "550 5.1.1 [redacted]... User unknown"),
        ("550 User bob@example.com does not exist.", "550 User [redacted] does not exist."),
        ("553 5.1.3 RCPT TO:<bob@example.com> rejected", "553 5.1.3 RCPT TO:<[redacted]> rejected"),
        ("550 to=<bob@example.com>, from=<news@lists.example.org>", "550 to=<[redacted]>, from=<[redacted]>"),
        ("550 5.1.1 <山田@例え.jp>: unknown", "550 5.1.1 <[redacted]>: unknown"),
        ("550 5.1.1 <\"bob smith\"@example.com>: unknown", "550 5.1.1 <[redacted]>: unknown"),
        ("550 5.1.1 <bob@[192.0.2.1]>: unknown", "550 5.1.1 <[redacted]>: unknown"),
        ("550 5.1.1 <bob@xn--r8jz45g.jp>", "550 5.1.1 <[redacted]>"),
        ("550 SRS0=abcd=TT=example.com=bob@forwarder.example: no", "550 [redacted]: no"),
        ("550 a@b@c", "550 [redacted][redacted]"),
        ("451 4.3.0 try again later", "451 4.3.0 try again later"),
        ("550 a lone @ names nobody", "550 a lone @ names nobody"),
        ("smtp://127.0.0.1:2525: SMTP \"550 5.1.1 <bob@example.com>: no\" (curl 55: RCPT failed: 550)",
         "smtp://127.0.0.1:2525: SMTP \"550 5.1.1 <[redacted]>: no\" (curl 55: RCPT failed: 550)"),
        ("", ""),
    ]

    @Test("replaces every address and keeps the rest of the reply", arguments: examples)
    func redacts(_ reply: String, _ expected: String) {
        #expect(SMTPReply.redacted(reply) == expected)
    }

    @Test("a redacted reply redacts to itself")
    func idempotent() {
        for (reply, _) in Self.examples {
            let once = SMTPReply.redacted(reply)
            #expect(SMTPReply.redacted(once) == once)
        }
    }
}
