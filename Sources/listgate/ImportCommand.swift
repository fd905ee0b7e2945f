// `listgate import FILE --list SLUG`: subscribers from CSV or NDJSON. Never sends mail.
import ArgumentParser
import Foundation
import ListgateCore

extension DataFormat: ExpressibleByArgument {}
extension ImportEncoding: ExpressibleByArgument {}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import subscribers from a CSV or NDJSON file. No mail is sent.",
        discussion: """
            CSV (RFC 4180) needs a header row: email is required; name, status, \
            subscribed_at, unsubscribed_at and consent_note are optional; other columns are \
            ignored (an export from `listgate export subscribers` imports as it is). Japanese \
            column names are understood too: メールアドレス, メール or Eメール (email); 氏名, 名前 \
            or お名前 (name); 状態 or ステータス (status); 登録日時 (subscribed_at). NDJSON has \
            one object per line with the English keys. FILE - reads standard input.

            Encoding: --encoding auto (the default) reads the file as UTF-8 when all of it is \
            UTF-8, otherwise as CP932 (Shift_JIS, what Excel saves as Japanese "CSV"); a file \
            that is neither is refused before anything is imported. Times without an offset \
            (2024-04-01 09:30:00, Excel's 2024/4/1 9:30, or a date alone) are in --timezone \
            (default UTC).

            Consent: a row becomes active only with a consent note, the admin's statement of \
            how the person agreed (its consent_note, or --consent-note for the whole file); it \
            is recorded in the row's `imported` event. Without one the row is stored as \
            pending. status may be active (the default), pending, unsubscribed, bounced or \
            complained; those who left are kept suppressed for the list.

            Merging: an address already on the list is updated (pending to active with a \
            consent note, a new name, or left), never brought back once it left, and never \
            moved from active to pending. Duplicate rows merge. Suppressed addresses are \
            skipped and counted: suppression wins.

            Bad rows are reported on stderr as `line N: reason` and skipped; the other rows \
            are imported, and the exit status is 0. The summary line counts every row once: \
            imported, updated, skipped, invalid, suppressed.

            Resumable, not atomic: rows are committed 10,000 at a time. If an import is \
            interrupted, run the same command again: rows already imported are counted as \
            skipped, and nothing is duplicated.

            Examples:
              listgate import members.csv --list news --consent-note "paper form, 2025 fair"
              listgate import 会員名簿.csv --list news --timezone Asia/Tokyo
              cat members.ndjson | listgate import - --list news --format ndjson
            """
    )

    @Argument(help: ArgumentHelp("The file to import; - reads standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("The list's slug.", valueName: "slug"))
    var list: String

    @Option(help: ArgumentHelp(
        "csv or ndjson (default: ndjson for a .ndjson or .jsonl file name, otherwise csv).", valueName: "format"))
    var format: DataFormat?

    @Option(help: ArgumentHelp(
        "How these people consented (recorded in each event); rows become active only with a consent note.",
        valueName: "text"))
    var consentNote: String?

    @Option(help: ArgumentHelp(
        "utf-8, cp932 (Shift_JIS, Excel's Japanese CSV) or auto (default: UTF-8 if the whole file is, otherwise CP932).",
        valueName: "encoding"))
    var encoding: ImportEncoding = .auto

    @Option(help: ArgumentHelp(
        "The time zone of times without an offset, e.g. Asia/Tokyo (default UTC).", valueName: "zone"))
    var timezone: String?

    @Flag(help: "No progress line on stderr.")
    var quiet = false

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        MallocTuning.limitArenas()
        let slug = try ListSlug(list)
        let zone = try timezone.map(Self.timeZone(named:)) ?? .gmt
        let rules = try ImportRules(consentNote: consentNote, timeZone: zone)
        let format = format ?? Self.format(ofFileNamed: file)
        let store = try await database.openMigrated()
        guard try await store.list(slug) != nil else { throw DomainError.listNotFound(slug.rawValue) }
        let input = try ImportInput.open(path: file, encoding: encoding)
        let reader = try SubscriberFileReader(source: input.source, format: format, name: input.name)
        let progress = ProgressLine(quiet: quiet, noun: "rows")
        defer { progress.finish() }
        if encoding == .auto, input.encoding == .cp932 {
            progress.message("note: \(input.name) is not UTF-8; reading it as CP932 (Shift_JIS)")
        }
        if !reader.ignoredColumns.isEmpty {
            progress.message("note: these columns are not imported: \(reader.ignoredColumns.joined(separator: ", "))")
        }
        let summary = try await store.importSubscribers(
            from: reader, options: ImportOptions(list: slug, rules: rules),
            problem: { progress.message($0.description) }, progress: { progress.update($0) })
        progress.finish()
        if output.json {
            try Console.printJSON([
                "list": .string(slug.rawValue), "import_id": .string(summary.importID),
                "imported": .number(summary.imported), "updated": .number(summary.updated),
                "skipped": .number(summary.skipped), "invalid": .number(summary.invalid),
                "suppressed": .number(summary.suppressed),
                "pending_without_consent": .number(summary.pendingWithoutConsent),
            ] as [String: JSONScalar])
        } else {
            print("imported \(summary.imported), updated \(summary.updated), skipped \(summary.skipped), "
                + "invalid \(summary.invalid), suppressed \(summary.suppressed) "
                + "(list '\(slug)', import \(summary.importID); no mail was sent)")
            if summary.pendingWithoutConsent > 0 {
                print("\(summary.pendingWithoutConsent) of them are pending because they had no consent note "
                    + "(--consent-note or a consent_note column makes rows active)")
            }
        }
    }

    /// An IANA zone name (`Asia/Tokyo`) or `UTC`; anything else is refused, never guessed.
    static func timeZone(named name: String) throws -> TimeZone {
        guard let zone = TimeZone(identifier: name), !name.isEmpty else {
            throw CLIError("unknown time zone '\(name)': use an IANA name such as Asia/Tokyo, or UTC")
        }
        return zone
    }

    static func format(ofFileNamed name: String) -> DataFormat {
        let lower = name.lowercased()
        return lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") ? .ndjson : .csv
    }
}

/// One value of a small JSON document on stdout.
enum JSONScalar: Encodable {
    case number(Int)
    case string(String)
    case bool(Bool)
    case null

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }
}
