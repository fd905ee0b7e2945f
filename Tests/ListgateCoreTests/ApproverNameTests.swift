// How an admin names themself when approving a snapshot (`Approver.admin(named:)`): one
// person is one approver whatever the spelling, so a required second approval cannot come
// from the first approver typing their name differently.
import ListgateCore
import Testing

@Suite("An approver's name")
struct ApproverNameTests {
    @Test("names differing only in case or width are one approver", arguments: ["alice", "Alice", "ALICE", "ａｌｉｃｅ", " alice "])
    func caseAndWidthAreOnePerson(_ spelling: String) throws {
        #expect(try Approver.admin(named: spelling) == .admin("alice"))
    }

    @Test("a name with an invisible character is refused, not counted as someone else",
          arguments: ["ali\u{200B}ce", "alice\u{2060}", "al\u{7}ice", "alice\nbob"])
    func invisibleCharactersAreRefused(_ name: String) {
        #expect(throws: SnapshotApprovalError.invalidApprover) { try Approver.admin(named: name) }
    }

    @Test("a name is 1 to 100 characters, counted as the schema counts them")
    func lengthIsBounded() throws {
        #expect(try Approver.admin(named: String(repeating: "a", count: 100)).stored.count == 106)
        #expect(throws: SnapshotApprovalError.invalidApprover) { try Approver.admin(named: String(repeating: "a", count: 101)) }
        #expect(throws: SnapshotApprovalError.invalidApprover) { try Approver.admin(named: "   ") }
        // 40 letters with two combining marks each (no precomposed form): 40 characters
        // but 120 scalars, too long.
        #expect(throws: SnapshotApprovalError.invalidApprover) {
            try Approver.admin(named: String(repeating: "q\u{0308}\u{0301}", count: 40))
        }
    }
}
