// Specification of the preflight's passing side, through the built binary on every store
// (README, "Before you send"): a correct Japanese newsletter, rendered by another program
// from 田中's line of the recipients stream, passes through the API and through
// `listgate preflight`, whose --json is the API's answer; a broken one exits 1, a check
// that cannot run exits 2; and the ledger keeps counts and codes, never the message.
import Foundation
import ListgateTestSupport
import Testing

@Suite("A correct Japanese newsletter passes preflight", .serialized)
struct JapaneseNewsletterPreflightTests {
    func write(_ message: [UInt8], in world: PreflightLoopWorld, name: String = "campaign.eml") throws -> String {
        let path = world.server.workspace.url.appendingPathComponent(name).path
        try Data(message).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("it passes through the API, and listgate preflight --json prints the same answer and exits 0",
          arguments: StoreKind.underTest)
    func passesThroughAPIAndTerminal(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        let message = try world.newsletter.rendered()
        let answer = try await world.preflight(message)
        #expect(answer.status == 200)
        #expect(try answer.object()["verdict"] as? String == "pass", "\(answer.text)")
        #expect(try answer.object()["recipient"] as? String == world.line["recipient_id"] as? String)
        let path = try write(message, in: world)
        let result = try world.server.workspace.listgate(
            "preflight", path, "--list", "news", "--snapshot", world.snapshotID, "--base-url", world.server.base, "--json")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.trimmingCharacters(in: .newlines) == answer.text, "the same bytes as the API's answer")
    }

    @Test("from the terminal without the public URL it passes on the newest snapshot, saying the host was not checked",
          arguments: StoreKind.underTest)
    func passesWithoutBaseURL(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        let path = try write(try world.newsletter.rendered(), in: world)
        let result = try world.server.workspace.listgate("preflight", path, "--list", "news")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasPrefix("pass: "))
        #expect(result.stdout.contains("snapshot \(world.snapshotID)"))
        #expect(result.stdout.contains("host was not checked"))
    }

    @Test("a message without the unsubscribe headers or the legal name exits 1, each problem said", arguments: StoreKind.underTest)
    func brokenExitsOne(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        var message = world.newsletter
        message.listUnsubscribe = nil
        message.listUnsubscribePost = false
        message.text = message.text?.replacingOccurrences(of: PreflightLoopWorld.legalName, with: "")
        message.html = message.html?.replacingOccurrences(of: PreflightLoopWorld.legalName, with: "")
        let path = try write(try message.rendered(), in: world)
        let result = try world.server.workspace.listgate("preflight", path, "--list", "news")
        #expect(result.status == 1)
        for code in ["list_unsubscribe_missing", "list_unsubscribe_post_missing", "legal_name_missing"] {
            #expect(result.stdout.contains(code), "\(code)")
        }
        #expect(result.stderr.split(separator: "\n").last == "error: preflight failed: 3 problem(s)")
    }

    @Test("no such list, no such snapshot, or no such file exits 2: not checked", arguments: StoreKind.underTest)
    func notCheckedExitsTwo(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        let path = try write(try world.newsletter.rendered(), in: world)
        let workspace = world.server.workspace
        for (arguments, reason) in [
            (["preflight", path, "--list", "nosuch"], "nosuch"),
            (["preflight", path, "--list", "news", "--snapshot", "nosuch-snapshot"], "nosuch-snapshot"),
            (["preflight", workspace.url.appendingPathComponent("missing.eml").path, "--list", "news"], "missing.eml"),
        ] {
            let result = try Binary.run(arguments + ["--db", workspace.db], in: workspace.url)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            let last = result.stderr.split(separator: "\n").last ?? ""
            #expect(last.hasPrefix("error: not checked: ") && last.contains(reason), "\(last)")
        }
    }

    @Test("the ledger records each preflight with counts and codes, and none of the message's text or addresses",
          arguments: StoreKind.underTest)
    func ledgerKeepsNoMessage(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        var leaking = world.newsletter
        leaking.text = (leaking.text ?? "") + "\n" + PreflightLoopWorld.members.joined(separator: "\n")
        _ = try await world.preflight(try world.newsletter.rendered())
        _ = try await world.preflight(try leaking.rendered())
        let details = try world.server.workspace.texts(
            "SELECT detail FROM events WHERE type = 'preflight_checked' ORDER BY id").map { $0[0] ?? "" }
        #expect(details.count == 2)
        #expect(details[0].contains(#""verdict":"pass""#) && details[1].contains(#""subscriber_addresses":"300""#))
        for detail in details {
            #expect(!detail.contains("@") && !detail.contains("田中") && !detail.contains("お知らせ"), "\(detail)")
        }
    }
}
