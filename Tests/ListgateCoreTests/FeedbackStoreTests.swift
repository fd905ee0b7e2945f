// Specification of what the feedback room keeps of a report before any store sees it.
// What the stores do with reports is specified on every store in
// Tests/ListgateStoreTests/FeedbackConformanceTests.swift.
import Foundation
import Testing
@testable import ListgateCore

@Suite("Feedback ledger detail")
struct FeedbackStoreTests {
    let when = Date(timeIntervalSince1970: 1_795_000_000)

    @Test("the ledger keeps no address of a report: every word holding an @ is replaced, keys are cut to [a-z0-9_]")
    func ledgerDetailHasNoAddress() {
        let event = FeedbackEvent(
            id: "<0100018c@email.amazonses.com>", type: .hardBounce, recipient: .email("a@example.net"), occurredAt: when,
            detail: ["Diagnostic-Code": "smtp; 550 5.1.1 <a@example.net>:\tuser unknown", "status": "5.1.1", "who": "ａ＠example.jp"])
        let detail = Feedback.ledgerDetail(event)
        #expect(detail["report"] == "hard_bounce")
        #expect(detail["report_id"] == "(address)")
        #expect(detail["detail.diagnosticcode"] == "smtp; 550 5.1.1 (address) user unknown")
        #expect(detail["detail.status"] == "5.1.1")
        #expect(detail["detail.who"] == "(address)")
        #expect(!detail.values.contains { $0.contains("@") || $0.contains("＠") })
    }
}
