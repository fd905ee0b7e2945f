// The Keirinkan incident (README, "Why listgate exists") replayed through the built binary
// on every store: 832 mails showed every member's address because the whole list was
// written into To or Cc. Here the sender preflights its rendered message first: the list
// written in To, in Cc or in Bcc fails, with how many of the addresses are subscribers,
// and the answer holds none of them.
import Foundation
import ListgateTestSupport
import Testing

@Suite("Keirinkan replayed: the members in the address headers fail preflight", .serialized)
struct KeirinkanReplayLoopTests {
    @Test("all 301 members written in To fail: not one recipient, and 301 subscribers' addresses", arguments: StoreKind.underTest)
    func membersInTo(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        var message = world.newsletter
        message.to = PreflightLoopWorld.members + [PreflightLoopWorld.recipient]
        let answer = try await world.preflight(try message.rendered())
        #expect(answer.status == 200)
        let report = try answer.object()
        #expect(report["verdict"] as? String == "fail")
        #expect(answer.problemCodes.contains("to_not_one_address") && answer.problemCodes.contains("foreign_addresses"))
        #expect(report["subscriber_addresses"] as? Int == 301, "every address in To is a subscriber's")
        #expect(!answer.text.contains("@"), "no address in the answer")
    }

    @Test("the 300 other members in Cc, then in Bcc, each fail as a copy header with 300 subscribers' addresses",
          arguments: StoreKind.underTest)
    func membersInCopyHeaders(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        for field in ["Cc", "Bcc"] {
            var message = world.newsletter
            if field == "Cc" { message.cc = PreflightLoopWorld.members } else { message.bcc = PreflightLoopWorld.members }
            let answer = try await world.preflight(try message.rendered())
            #expect(answer.status == 200)
            let report = try answer.object()
            #expect(report["verdict"] as? String == "fail", "\(field)")
            #expect(answer.problemCodes.sorted() == ["copy_header", "foreign_addresses"], "\(field): \(answer.problemCodes)")
            #expect(report["foreign_addresses"] as? Int == 300 && report["subscriber_addresses"] as? Int == 300, "\(field)")
            #expect(report["recipient"] as? String == world.line["recipient_id"] as? String, "\(field): the To is still 田中")
            #expect(!answer.text.contains("@"), "\(field): no address in the answer")
        }
        #expect(try world.server.workspace.count("events", where: "type = 'preflight_checked'") == 2)
    }
}
