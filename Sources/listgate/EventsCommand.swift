// `listgate events`: check the ledger's sealed hash chain (verify), note its head to keep
// elsewhere (checkpoint), and seal what is waiting now (seal). README, "The ledger:
// durable now, sealed soon".
import ArgumentParser
import Foundation
import ListgateCore

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events",
        abstract: "Check the event ledger (export it with `listgate export events`).",
        subcommands: [Verify.self, Checkpoint.self, Seal.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the ledger's sealed hash chain and report the first event that does not verify.",
            discussion: """
                Events are sealed into a hash chain within a second or two of being recorded: each \
                sealed event has a position, the hash of the one before it and a hash of its own \
                contents. verify walks the chain in order and names the first event that was \
                edited, removed, inserted or reordered behind the append-only triggers, exiting \
                non-zero. Events not sealed yet (the unsealed tail) are counted, not an error.

                A chain cut short at its newest end, or rewritten and re-hashed whole by someone \
                with write access to the database, still holds together. Against that, keep a \
                checkpoint elsewhere (`listgate events checkpoint`) and give it with --checkpoint: \
                verify then also proves the chain still passes through it.

                --json prints {"ok", "sealed", "unsealed", "head": {"count", "hash"}, "problem"?}.
                """
        )

        @Option(help: ArgumentHelp(
            "A checkpoint file, as `listgate events checkpoint --json` printed it: the chain must still pass through it.",
            valueName: "file"))
        var checkpoint: String?

        @Flag(help: "No progress line on stderr.")
        var quiet = false

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let expected = try checkpoint.map(Self.readCheckpoint)
            let progress = ProgressLine(quiet: quiet, noun: "events")
            let result = try await database.openMigrated(sealingOnExit: false).verifyLedger(against: expected) {
                progress.update($0)
            }
            progress.finish()
            if !result.appendOnlyTriggersPresent {
                Console.writeStderr(
                    "warning: the triggers that make events and their chain append-only are missing from this database; "
                        + "restore them from Migrations/0010_sealed_ledger.sql\n")
            }
            if output.json {
                try Console.printJSON(VerifyDocument(result))
            } else if result.isIntact {
                var line = "ledger intact: \(result.sealed) events sealed, head hash \(result.head.hash)"
                if result.unsealed > 0 { line += "; \(result.unsealed) newer not sealed yet" }
                print(line)
                if let expected {
                    print("the chain passes through the checkpoint (\(expected.count) events, hash \(expected.hash))")
                }
            }
            if let broken = result.firstBreak {
                throw CLIError("ledger broken: \(broken.description) (the \(result.sealed) events before it are intact)")
            }
            if let mismatch = result.checkpointMismatch {
                throw CLIError("ledger does not extend the checkpoint: \(mismatch.description)")
            }
        }

        static func readCheckpoint(_ path: String) throws -> LedgerCheckpoint {
            // Opened first for the system's own reason when it cannot be read.
            let descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else {
                throw CLIError("cannot read checkpoint \(path): \(String(cString: strerror(errno)))")
            }
            close(descriptor)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError("cannot read checkpoint \(path)")
            }
            let shape = "it must hold {\"count\": N, \"hash\": \"64 hex digits\"}, as `listgate events checkpoint --json` prints it"
            guard (try? JSONSerialization.jsonObject(with: data)) is [String: Any] else {
                throw CLIError("checkpoint \(path) is not a JSON object: \(shape)")
            }
            // The decoder, unlike JSONSerialization, takes neither 1.5 nor true for a count.
            guard let checkpoint = try? JSONDecoder().decode(LedgerCheckpoint.self, from: data) else {
                throw CLIError("checkpoint \(path) has no whole count and hash: \(shape)")
            }
            guard checkpoint.isWellFormed else { throw CLIError("checkpoint \(path) is not valid: \(shape)") }
            return checkpoint
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the sealed chain's head (count and hash) to keep outside the database.",
            discussion: """
                The chain is verified first; a broken chain gets no checkpoint. Keep the output \
                where someone with write access to this server cannot change it (your ticketing \
                system, a printed note, another machine), and give it later to \
                `listgate events verify --checkpoint FILE`: a chain truncated below it, or rewritten \
                and re-hashed, no longer passes through it. Events not sealed yet are not covered.

                Example:
                  listgate events checkpoint --json > ledger-checkpoint-2026-12-01.json
                """
        )

        @OptionGroup var database: DatabaseOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let result = try await database.openMigrated(sealingOnExit: false).verifyLedger(against: nil) { _ in }
            if let problem = result.problem {
                throw CLIError("ledger broken: \(problem); no checkpoint of a broken chain")
            }
            if result.unsealed > 0 {
                Console.writeStderr("note: \(result.unsealed) newer events are not sealed yet: this checkpoint does not cover them\n")
            }
            if output.json {
                try Console.printJSON(result.head)
            } else {
                print("sealed head: \(result.head.count) events, hash \(result.head.hash)")
            }
        }
    }

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal the events waiting for the chain now, unless a running server does it.",
            discussion: """
                Seldom needed: a running `listgate serve` seals new events within a second or two, \
                and every other command seals what is waiting as it exits. One sealer works at a \
                time, holding a lease in the database; while another holds it (a running server, \
                or one that died within the lease, 10 seconds), this command seals nothing and \
                says who holds it.
                """
        )

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let store = try await database.openMigrated(sealingOnExit: false)
            switch try await store.sealPending(as: LedgerSealing.holder("cli"), lease: LedgerSealing.leaseDuration()) {
            case .sealed(let count, let more, _):
                print(more
                    ? "sealed \(count) events; another sealer took the lease for the rest"
                    : count == 0 ? "nothing to seal: every event is in the chain" : "sealed \(count) events")
            case .leaseHeld(let holder, let until):
                print("nothing sealed: the sealer's lease is held by \(holder)"
                    + (until.map { " until \(Timestamp.string($0))" } ?? "") + "; it seals the waiting events")
            }
        }
    }
}

/// `events verify --json`. The first five keys are the document's; the others are what
/// earlier versions printed, kept for scripts that read them.
private struct VerifyDocument: Encodable {
    let ok: Bool
    let sealed: Int
    let unsealed: Int
    let head: LedgerCheckpoint
    let problem: String?
    let intact: Bool
    let eventsChecked: Int
    let lastHash: OrNull<String>
    let appendOnlyTriggers: Bool
    let firstBrokenEvent: OrNull<Int64>

    init(_ result: LedgerVerification) {
        ok = result.isIntact
        sealed = result.sealed
        unsealed = result.unsealed
        head = result.head
        problem = result.problem
        intact = result.isIntact
        eventsChecked = result.sealed
        lastHash = OrNull(result.sealed == 0 ? nil : result.head.hash)
        appendOnlyTriggers = result.appendOnlyTriggersPresent
        firstBrokenEvent = OrNull(result.firstBreak?.eventID)
    }

    enum CodingKeys: String, CodingKey {
        case ok, sealed, unsealed, head, problem, intact
        case eventsChecked = "events_checked", lastHash = "last_hash", appendOnlyTriggers = "append_only_triggers"
        case firstBrokenEvent = "first_broken_event"
    }
}
