// `listgate snapshots prune`: delete the member rows of old snapshots now, instead of
// waiting for the server's hourly pruning (README, "Snapshots are kept for a while").
import ArgumentParser
import Foundation
import ListgateCore

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "Look after the audience snapshots taken for senders.",
        subcommands: [Prune.self]
    )

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the members of snapshots older than the retention; their metadata stays.",
            discussion: """
                A pruned snapshot keeps its id, count, checksum and snapshot_taken event; its
                recipients stream answers 410 snapshot_expired. listgate serve does this every
                hour for snapshots older than LISTGATE_SNAPSHOT_RETENTION days (default 30).

                Example:
                  listgate snapshots prune --older-than 7
                """
        )

        @Option(help: ArgumentHelp(
            "Prune snapshots taken more than this many days ago; 0 prunes every snapshot (env LISTGATE_SNAPSHOT_RETENTION; default 30).",
            valueName: "days"))
        var olderThan: Int?

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let text = SettingsSource().value(olderThan.map(String.init), "LISTGATE_SNAPSHOT_RETENTION") ?? "30"
            guard let days = Int(text), (0...36_500).contains(days) else {
                throw CLIError("invalid number of days '\(text)': use a whole number from 0 to 36500")
            }
            let store = try await database.openMigrated()
            let cutoff = Date().addingTimeInterval(-Double(days) * 86_400)
            let pruning = try await store.pruneSnapshots(takenBefore: cutoff, batch: 10_000)
            if output.json {
                try Console.printJSON(["snapshots": pruning.snapshots, "member_rows": pruning.rows])
            } else if pruning.snapshots == 0 && pruning.rows == 0 {
                print("no snapshot taken before \(Timestamp.string(cutoff)) still has members")
            } else {
                print("pruned \(pruning.snapshots) snapshot(s) taken before \(Timestamp.string(cutoff)): \(pruning.rows) member rows freed")
            }
        }
    }
}
