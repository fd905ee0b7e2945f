// `listgate snapshots`: list and show the audience snapshots taken for senders, approve
// one (README, "Before you send"), and prune old ones' members now instead of waiting for
// the server's hourly pruning (README, "Snapshots are kept for a while").
import ArgumentParser
import Foundation
import ListgateCore
import ListgateServer

struct SnapshotsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshots",
        abstract: "Look after the audience snapshots taken for senders.",
        subcommands: [List.self, Show.self, Approve.self, Prune.self]
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

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List snapshots, newest first, with their count, checksum and approval status.",
            discussion: """
                Example:
                  listgate snapshots list --list news
                """
        )

        @Option(help: ArgumentHelp("Only this list's snapshots.", valueName: "slug"))
        var list: String?

        @Option(help: "At most this many (default 50).")
        var limit = 50

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            guard (1...10_000).contains(limit) else { throw CLIError("--limit must be 1 to 10000") }
            let store = try await database.openMigrated()
            var listID: Int64?
            if let list {
                let slug = try ListSlug(list)
                guard let found = try await store.list(slug) else { throw DomainError.listNotFound(slug.rawValue) }
                listID = found.id
            }
            let snapshots = try await store.snapshots(listID: listID, limit: limit)
            if output.json {
                try SnapshotsCommand.printJSON(["snapshots": snapshots.map(SnapshotDocument.object)])
                return
            }
            Console.printTable(
                header: ["ID", "LIST", "CREATED", "COUNT", "SHA256", "STATUS", "APPROVALS", "ERASED", "EXPIRED"],
                rows: snapshots.map { snapshot in
                    [snapshot.id, snapshot.listSlug, Timestamp.string(snapshot.createdAt), String(snapshot.count),
                     String(snapshot.sha256.prefix(12)), snapshot.status.rawValue,
                     "\(snapshot.approvals)/\(snapshot.approvalsRequired)", String(snapshot.erased),
                     snapshot.expired ? "yes" : "no"]
                })
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one snapshot: what the sender API answers for it, and who approved it.")

        @Argument(help: "The snapshot's id.")
        var id: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let store = try await database.openMigrated()
            guard let snapshot = try await store.snapshot(id: id) else { throw SnapshotApprovalError.snapshotNotFound(id) }
            let approvals = try await store.approvals(snapshotID: id)
            if output.json {
                var document = SnapshotDocument.object(snapshot)
                document["approved_by"] = approvals.map {
                    ["approver": $0.approver.stored, "approved_at": Timestamp.string($0.approvedAt)]
                }
                try SnapshotsCommand.printJSON(document)
                return
            }
            Console.printTable(header: ["FIELD", "VALUE"], rows: [
                ["id", snapshot.id],
                ["list", snapshot.listSlug],
                ["created", Timestamp.string(snapshot.createdAt)],
                ["count", String(snapshot.count)],
                ["sha256", snapshot.sha256],
                ["status", snapshot.status.rawValue],
                ["approvals", "\(snapshot.approvals) of \(snapshot.approvalsRequired)"],
                ["erased", String(snapshot.erased)],
                ["expired", snapshot.expired ? "yes" : "no"],
            ] + approvals.map { ["approved by", "\($0.approver.stored) at \(Timestamp.string($0.approvedAt))"] })
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a snapshot by its exact count and sha256, as the sender showed them to you.",
            discussion: """
                A list with --snapshot-approvals N streams a snapshot's recipients only once N \
                different approvers approved it. Give the count and the sha256 (at least its first \
                8 hex digits) you were shown: if either is not the snapshot's, nothing is recorded. \
                Approving twice under the same name counts once.

                Example:
                  listgate snapshots approve 8Kq…Zw --approver alice --count 1200 --sha256 3f9a0c12
                """
        )

        @Argument(help: "The snapshot's id.")
        var id: String

        @Option(help: "Your name, as the ledger records it (one line, 1–100 characters).")
        var approver: String

        @Option(help: "The snapshot's count, as you were shown it.")
        var count: Int

        @Option(help: ArgumentHelp("The snapshot's sha256, or at least its first 8 hex digits.", valueName: "hex"))
        var sha256: String

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let store = try await database.openMigrated()
            let tally = try await SnapshotApprovals(store: store).approve(
                snapshotID: id, by: try Approver.admin(named: approver), count: count, sha256Prefix: sha256, source: .cli)
            if output.json {
                try SnapshotsCommand.printJSON([
                    "approvals": tally.approvals, "approvals_required": tally.required, "counted": tally.counted,
                    "status": tally.status.rawValue,
                ] as [String: Any])
                return
            }
            if !tally.counted { print("already approved by \(approver) (counted once)") }
            switch tally.status {
            case .ready: print("ready: \(tally.approvals) of \(tally.required) approvals; the recipients can be streamed")
            case .awaitingApproval:
                print("\(tally.approvals) of \(tally.required); awaiting \(tally.required - tally.approvals) more")
            }
        }
    }

    /// A JSON object of the sender API's shape, as `Console.printJSON` formats.
    static func printJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }
}
