// `listgate events verify`: recompute the ledger's hash chain and name the first event
// that does not hold, so an edit of the consent records behind the triggers is found.
import ArgumentParser
import Foundation
import ListgateCore

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Check the event ledger (export it with `listgate export events`).",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the ledger's hash chain and report the first broken link.",
            discussion: """
                Every event stores the hash of the event before it and a hash of its own \
                contents. An event edited, removed, inserted or reordered behind the append-only \
                triggers breaks the chain from there on; verify names the first such event and \
                exits non-zero. Removing the newest events leaves a shorter chain that still \
                holds: keep the printed last hash (or an export) to detect that too.
                """
        )

        @Flag(help: "No progress line on stderr.")
        var quiet = false

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let progress = ProgressLine(quiet: quiet, noun: "events")
            let result = try await database.openMigrated().verifyLedger { progress.update($0) }
            progress.finish()
            if !result.appendOnlyTriggersPresent {
                Console.writeStderr(
                    "warning: the triggers that make events append-only are missing from this database; "
                        + "restore them from Migrations/0001_initial.sql\n")
            }
            if output.json {
                var document: [String: JSONScalar] = [
                    "intact": .bool(result.isIntact), "events_checked": .number(result.eventCount),
                    "last_hash": result.lastHash.map(JSONScalar.string) ?? .null,
                    "append_only_triggers": .bool(result.appendOnlyTriggersPresent),
                    "first_broken_event": result.firstBreak.map { .number(Int($0.eventID)) } ?? .null,
                ]
                if let broken = result.firstBreak { document["problem"] = .string(broken.description) }
                try Console.printJSON(document)
            } else if result.isIntact {
                print("ledger intact: \(result.eventCount) events" + (result.lastHash.map { ", last hash \($0)" } ?? ""))
            }
            if let broken = result.firstBreak {
                throw CLIError("ledger broken: \(broken.description) (the \(result.eventCount) events before it are intact)")
            }
        }
    }
}
