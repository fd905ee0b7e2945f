// `listgate consent show VERSION`: the exact wording a consent version in the ledger names,
// as archived the first time a request used it (README, "One person, whole").
import ArgumentParser
import Foundation
import ListgateCore

struct ConsentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consent",
        abstract: "Show what people consented to.",
        subcommands: [Show.self]
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the wording a consent version names: the subscribe and confirm pages and the confirmation mail.",
            discussion: """
                Every subscribe request records a consent version (see `listgate subscribers history` \\
                or `listgate export events`). The first request with a version stores its wording in \\
                the database, where it is never changed or deleted, so it can be shown exactly as it \\
                was after the templates have been edited. The texts are the templates as written, \\
                {{placeholders}} included; the version is a hash of them, checked again here. \\
                Versions recorded before listgate archived wordings have no text to show.

                Example:
                  listgate consent show 3f2a9c4e1b7d8a60
                """
        )

        @Argument(help: "The consent version (16 hexadecimal digits).")
        var version: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let version = version.lowercased()
            guard ConsentWording.isWellFormedVersion(version) else {
                throw CLIError("'\(self.version)' is not a consent version: one is 16 hexadecimal digits, as in the ledger's consent_version")
            }
            switch try await database.openMigrated().consentVersion(version) {
            case .unknown:
                throw CLIError("no consent version \(version) in this database")
            case .recordedWithoutWording(let first):
                if output.json {
                    try Console.printJSON([
                        "version": JSONScalar.string(version), "archived": .bool(false),
                        "first_recorded_at": .string(Timestamp.string(first)),
                    ])
                } else {
                    print("consent version \(version) was first recorded at \(Timestamp.string(first)), before listgate "
                        + "archived wordings: its text was not kept")
                }
            case .archived(let wording):
                if output.json {
                    try Console.printJSON(WordingDocument(wording))
                    return
                }
                print("consent version \(wording.version) (\(wording.locale.rawValue)), first used at "
                    + Timestamp.string(wording.firstUsedAt))
                print(wording.isIntact
                    ? "the texts below hash to this version: they are the wording as it was"
                    : "warning: the texts below no longer hash to this version: the archive was altered")
                for part in wording.parts {
                    print("")
                    print("===== \(part.name) =====")
                    print(part.text.hasSuffix("\n") ? String(part.text.dropLast()) : part.text)
                }
            }
        }
    }
}
