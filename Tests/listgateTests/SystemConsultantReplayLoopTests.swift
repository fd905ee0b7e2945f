// The System Consultant incident (README, "Why listgate exists") replayed through the built
// binary on every store: a newsletter's body carried the 13,011-address file to 1,016
// people. Here the 300-address file is pasted into 田中's copy, written every way a
// sender's tooling could write it: in the text part, only in the HTML part, base64- and
// quoted-printable-encoded, with full-width ＠, as `&#64;`. Each fails preflight with
// "300 of them are subscribers", and no address is answered.
import Foundation
import ListgateTestSupport
import Testing

@Suite("System Consultant replayed: the address file in the body fails preflight", .serialized)
struct SystemConsultantReplayLoopTests {
    static var file: String { PreflightLoopWorld.members.joined(separator: "\n") }

    /// The newsletter with the file pasted in, one way.
    static let pastings: [(name: String, paste: @Sendable (inout Newsletter) -> Void)] = [
        ("in the text part", { $0.text = ($0.text ?? "") + "\n\n顧客リスト:\n" + file }),
        ("only in the HTML part", {
            $0.html = ($0.html ?? "") + "<table>\n"
                + PreflightLoopWorld.members.map { "<tr><td>\($0)</td></tr>" }.joined(separator: "\n") + "\n</table>"
        }),
        ("base64-encoded", { $0.text = ($0.text ?? "") + "\n\n" + file; $0.textCTE = "base64" }),
        ("quoted-printable-encoded", { $0.text = ($0.text ?? "") + "\n\n" + file; $0.textCTE = "quoted-printable" }),
        ("with full-width ＠", { $0.text = ($0.text ?? "") + "\n\n" + file.replacingOccurrences(of: "@", with: "＠") }),
        ("as &#64; in the HTML part", {
            $0.html = ($0.html ?? "") + "<pre>" + file.replacingOccurrences(of: "@", with: "&#64;") + "</pre>"
        }),
    ]

    @Test("the 300-address file, however it is written into the body, fails with 300 subscribers' addresses",
          arguments: StoreKind.underTest)
    func addressFileInTheBody(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        for pasting in Self.pastings {
            var message = world.newsletter
            pasting.paste(&message)
            let answer = try await world.preflight(try message.rendered())
            #expect(answer.status == 200, "\(pasting.name)")
            let report = try answer.object()
            #expect(report["verdict"] as? String == "fail", "\(pasting.name)")
            #expect(answer.problemCodes == ["foreign_addresses"], "\(pasting.name): \(answer.problemCodes)")
            #expect(report["subscriber_addresses"] as? Int == 300, "\(pasting.name): \(answer.text)")
            let problem = (report["problems"] as? [[String: Any]])?.first
            #expect((problem?["message"] as? String)?.contains("300 of them are subscribers of this list") == true,
                    "\(pasting.name)")
            #expect(!answer.text.contains("@") && !answer.text.contains("customer1"), "\(pasting.name): no address answered")
        }
    }

    @Test("the same file pasted into the text part fails listgate preflight from the terminal: exit 1, nothing echoed",
          arguments: StoreKind.underTest)
    func addressFileFailsFromTheTerminal(_ kind: StoreKind) async throws {
        let world = try await PreflightLoopWorld(kind)
        var message = world.newsletter
        message.text = (message.text ?? "") + "\n\n" + Self.file
        let path = world.server.workspace.url.appendingPathComponent("campaign.eml").path
        try Data(try message.rendered()).write(to: URL(fileURLWithPath: path))
        let result = try world.server.workspace.listgate("preflight", path, "--list", "news")
        #expect(result.status == 1)
        #expect(result.stdout.contains("foreign_addresses") && result.stdout.contains("300 of them are subscribers"))
        #expect(result.stderr.split(separator: "\n").last == "error: preflight failed: 1 problem(s)")
        #expect(!result.stdout.contains("@") && !result.stderr.contains("@"))
    }
}
