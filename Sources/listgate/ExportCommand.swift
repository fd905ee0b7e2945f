// `listgate export subscribers | events`: CSV or NDJSON on stdout or into a file.
import ArgumentParser
import Foundation
import ListgateCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportStatusFilter: ExpressibleByArgument {}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a list's subscribers, or the consent ledger, as CSV or NDJSON.",
        discussion: """
            CSV follows RFC 4180 (UTF-8, header row, CRLF). A cell that a spreadsheet would run \
            as a formula (starting with =, +, -, @, tab or CR) is written with a leading \
            apostrophe, so it shows as text; `listgate import` takes the apostrophe off again. \
            Exports stream: memory stays flat however many rows there are. A file given with \
            --output is written next to its final name and renamed when complete, readable by \
            its owner only (it holds personal data). --excel starts the CSV with a UTF-8 byte \
            order mark, so that Excel (which otherwise reads a CSV as CP932 in Japan) shows \
            Japanese names as Japanese; `listgate import` reads such a file as it is.
            """,
        subcommands: [Subscribers.self, Events.self]
    )

    struct Subscribers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a list's subscribers (columns list, email, name, status, subscribed_at, unsubscribed_at, source).",
            discussion: """
                In the order the addresses were first recorded. --status active (the default) writes the people who \
                currently receive the list; --status all writes every subscription whatever its \
                state, e.g. for a backup or a move to another server.

                Example:
                  listgate export subscribers --list news --status all --output news.csv
                """
        )

        @Option(help: ArgumentHelp("The list's slug.", valueName: "slug"))
        var list: String

        @Option(help: ArgumentHelp("active (default) or all.", valueName: "status"))
        var status: ExportStatusFilter = .active

        @OptionGroup var target: ExportTarget
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            MallocTuning.limitArenas()
            let slug = try ListSlug(list)
            let store = try await database.openMigrated()
            let progress = ProgressLine(quiet: target.quiet, noun: "rows")
            defer { progress.finish() }
            let rows = try await target.write { destination in
                try await store.exportSubscribers(
                    list: slug, status: status, format: target.resolvedFormat, to: destination,
                    progress: { progress.update($0) })
            }
            progress.finish()
            if let path = target.outputPath { print("exported \(rows) subscriptions of '\(slug)' to \(path)") }
        }
    }

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the consent ledger (every state change, oldest first).",
            discussion: """
                Columns: id, occurred_at, type, list, address_hash, source, consent_version, \
                detail, prev_hash, hash. People appear only as keyed hashes (address_hash), never \
                as addresses. These are the records of consent and its withdrawal that Japan's Act \
                on Specified Electronic Mail and the GDPR expect a sender to keep; prev_hash and \
                hash chain each sealed event to the one before (check them with `listgate events \
                verify`); both are empty for an event recorded in the last second or two and not \
                sealed yet. In NDJSON, detail is an object; in CSV, its JSON text.

                --email gives the events about one address (found through its keyed hash), the \
                rows `listgate subscribers history` shows.

                Examples:
                  listgate export events --list news --since 2026-01-01 --output news-ledger.csv
                  listgate export events --email carol@example.com --format ndjson
                  listgate export events --format ndjson > ledger.ndjson
                """
        )

        @Option(help: ArgumentHelp("Only this list's events (default: every event).", valueName: "slug"))
        var list: String?

        @Option(help: ArgumentHelp(
            "Only the events about this address (as `listgate subscribers history` shows them).", valueName: "email"))
        var email: String?

        @Option(help: ArgumentHelp(
            "Only events at or after this time (RFC 3339, e.g. 2026-01-01T00:00:00Z, or a date).", valueName: "time"))
        var since: String?

        @OptionGroup var target: ExportTarget
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            MallocTuning.limitArenas()
            let slug = try list.map { try ListSlug($0) }
            let sinceDate = try since.map(Self.parseTime)
            let person = try email.map { text in try address("--email") { try EmailAddress(text) } }
            if person != nil, slug != nil || sinceDate != nil {
                throw CLIError("--email gives every event about the address; it cannot be combined with --list or --since")
            }
            let store = try await database.openMigrated()
            let progress = ProgressLine(quiet: target.quiet, noun: "events")
            defer { progress.finish() }
            let rows = try await target.write { destination in
                if let person {
                    return try await store.exportEvents(
                        of: person, format: target.resolvedFormat, to: destination, progress: { progress.update($0) })
                }
                return try await store.exportEvents(
                    list: slug, since: sinceDate, format: target.resolvedFormat, to: destination,
                    progress: { progress.update($0) })
            }
            progress.finish()
            if let path = target.outputPath { print("exported \(rows) events to \(path)") }
        }

        static func parseTime(_ text: String) throws -> Date {
            let candidate = text.count == 10 ? text + "T00:00:00Z" : text
            guard let date = Timestamp.parse(candidate) else {
                throw CLIError("invalid --since '\(text)': use RFC 3339, e.g. 2026-01-01T00:00:00Z, or a date, e.g. 2026-01-01")
            }
            return date
        }
    }
}

/// Options every export shares: the format, where it goes, and the progress line.
struct ExportTarget: ParsableArguments {
    @Option(help: ArgumentHelp(
        "csv or ndjson (default: ndjson for an --output ending in .ndjson or .jsonl, otherwise csv).", valueName: "format"))
    var format: DataFormat?

    @Option(help: ArgumentHelp("Write to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(help: "CSV for Excel: UTF-8 with a byte order mark (and CRLF), so Japanese shows as Japanese.")
    var excel = false

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    func validate() throws {
        if excel, resolvedFormat != .csv {
            throw ValidationError("--excel writes CSV; it cannot be used with --format ndjson")
        }
    }

    var outputPath: String? { output == "-" ? nil : output }

    var resolvedFormat: DataFormat {
        format ?? outputPath.map(ImportCommand.format(ofFileNamed:)) ?? .csv
    }

    /// Runs `body` against standard output, or a temporary file beside `--output` that
    /// is renamed into place only when the export completed.
    func write(_ body: (ExportDestination) async throws -> Int) async throws -> Int {
        guard let path = outputPath else {
            try writeByteOrderMark(to: .standardOutput)
            return try await body(.standardOutput)
        }
        let temporary = path + ".partial-\(RandomToken.hex(bytes: 4))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var isOpen = true
        do {
            let destination = ExportDestination(descriptor: descriptor, name: path)
            try writeByteOrderMark(to: destination)
            let rows = try await body(destination)
            let synced = fsync(descriptor) == 0
            isOpen = false
            guard close(descriptor) == 0, synced, rename(temporary, path) == 0 else {
                throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            return rows
        } catch {
            if isOpen { close(descriptor) }
            unlink(temporary)
            throw error
        }
    }

    /// With --excel, the UTF-8 byte order mark that tells Excel the file is UTF-8 (the
    /// export's CSV lines already end in CRLF). Written before the first row.
    private func writeByteOrderMark(to destination: ExportDestination) throws {
        guard excel else { return }
        let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
        var done = 0
        while done < mark.count {
            let n = mark[done...].withUnsafeBufferPointer { bytes in
                #if canImport(Glibc)
                Glibc.write(destination.descriptor, bytes.baseAddress, bytes.count)
                #else
                Darwin.write(destination.descriptor, bytes.baseAddress, bytes.count)
                #endif
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw CLIError("cannot write \(destination.name): \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}
