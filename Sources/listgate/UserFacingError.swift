// The one kind of failure the CLI explains to the person at the terminal: its message
// becomes the last line on stderr, `error: …`, and the exit is non-zero (README, "The
// CLI"). Each error type the core, the mail target or GRDB can throw at a command says
// here, once, that its description is fit for that line; `Entry` asks nothing else.
import Foundation
import GRDB
import ListgateCore
import ListgateMail

protocol UserFacingError: Error {
    /// What follows `error: ` on the last line; one line, no trailing period required.
    var userMessage: String { get }
}

extension UserFacingError where Self: CustomStringConvertible {
    var userMessage: String { description }
}

/// A failure of the command line itself (bad combination of options, unreadable file).
struct CLIError: UserFacingError, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// The core's errors are written for people already (each has a description in words).
extension DomainError: UserFacingError {}
extension StoreError: UserFacingError {}
extension SenderTokenError: UserFacingError {}
extension SnapshotApprovalError: UserFacingError {}
extension MembershipError: UserFacingError {}
extension DataFileError: UserFacingError {}
extension ExportError: UserFacingError {}
extension ImportOptionError: UserFacingError {}
extension FormsError: UserFacingError {}
extension WebhookError: UserFacingError {}

extension DatabaseError: UserFacingError {
    /// SQLite's own words, said to come from the database.
    var userMessage: String { "database: \(message ?? description)" }
}
