// `listgate preflight FILE.eml --list SLUG`: the sender's guard from the terminal (README,
// "Before you send"). The same check as `POST /api/v1/snapshots/{id}/preflight`, on a
// rendered message saved as a file, for an operator or a sender's CI job: exit 0 when the
// message may go, 1 when it must not (each problem said), 2 when it could not be checked.
import ArgumentParser
import Foundation
import ListgateCore
import ListgateMail
import ListgateServer

struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight",
        abstract: "Check one rendered newsletter against a snapshot before a campaign is sent.",
        discussion: """
            Give the message exactly as the sender would send it to one member of the snapshot \
            (a .eml file; - reads stdin; at most 10 MiB). listgate checks that only To names a \
            recipient, and a member of the snapshot; that no other address of anyone is in it \
            (counting how many are the list's subscribers); that From is the list's; that the \
            List-Unsubscribe headers and the link in the body are that member's; and that the \
            sender's legal name, postal address and contact are shown. The check is recorded as a \
            preflight_checked event, with counts and codes only.

            The unsubscribe link's host is checked only when the public URL is known (--base-url \
            or LISTGATE_BASE_URL); otherwise only its path is.

            Exit status: 0 the message passes; 1 it fails (each problem printed); 2 it could not \
            be checked (no such list or snapshot, an expired snapshot, an unreadable file).

            Examples:
              listgate preflight campaign-42.eml --list news
              listgate preflight campaign-42.eml --list news --snapshot 8Kq…Zw --json
            """
    )

    @Argument(help: ArgumentHelp("The rendered message, as it would be sent; - reads stdin.", valueName: "file.eml"))
    var file: String

    @Option(help: ArgumentHelp("The list the campaign is for.", valueName: "slug"))
    var list: String

    @Option(help: ArgumentHelp("The snapshot the campaign is sent to (default: the list's newest).", valueName: "id"))
    var snapshot: String?

    @Option(help: ArgumentHelp(
        "The server's public URL, to check the unsubscribe link's host (env LISTGATE_BASE_URL).", valueName: "url"))
    var baseURL: String?

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let (preflight, snapshot, list, raw, baseURLKnown) = try await prepared()
        let report = try await preflight.check(raw, snapshot: snapshot, list: list, source: .cli)
        if output.json {
            print(String(decoding: try PreflightDocument.json(report), as: UTF8.self))
        } else {
            print(Self.lines(report, snapshot: snapshot, baseURLKnown: baseURLKnown), terminator: "")
        }
        guard report.verdict == .pass else { throw PreflightFailed(problems: report.problems.count) }
    }

    /// Everything before the check; any failure here means "not checked" (exit 2).
    private func prepared() async throws -> (Preflight, AudienceSnapshot, MailingList, [UInt8], Bool) {
        do {
            let raw = try Self.read(file)
            let settings = SettingsSource()
            let base = try settings.baseURL(flag: baseURL)
            let store = try await database.openMigrated()
            let slug = try ListSlug(list)
            guard let list = try await store.list(slug) else { throw DomainError.listNotFound(slug.rawValue) }
            guard let id = try await snapshotID(store, list: list) else {
                throw CLIError("list '\(slug)' has no snapshot yet: a sender takes one with POST /api/v1/lists/\(slug)/snapshots")
            }
            guard let snapshot = try await store.snapshot(id: id) else { throw CLIError("no snapshot '\(id)'") }
            guard snapshot.listID == list.id else {
                throw CLIError("snapshot '\(id)' is of list '\(snapshot.listSlug)', not '\(slug)'")
            }
            guard !snapshot.expired else {
                throw CLIError("snapshot '\(id)' has expired (its members were deleted after the retention period); take a new one")
            }
            let secret: String
            if let configured = settings.nonEmpty("LISTGATE_SECRET_KEY") { secret = configured } else { secret = try await store.secretKey() }
            // Without the public URL the links are made on a stand-in base; the preflight
            // then compares only their paths, which carry the signed token.
            let links = LinkBuilder(signer: TokenSigner(secret: secret), baseURL: base ?? "http://base-url.invalid")
            return (Preflight(store: store, links: links, baseURLKnown: base != nil), snapshot, list, raw, base != nil)
        } catch let error as any UserFacingError {
            throw PreflightNotChecked(reason: error.userMessage)
        }
    }

    private func snapshotID(_ store: any ListgateStore, list: MailingList) async throws -> String? {
        if let snapshot { return snapshot }
        return try await store.newestSnapshotID(listID: list.id)
    }

    /// The file, or stdin for `-`, refused past 10 MiB without reading it all.
    static func read(_ path: String) throws -> [UInt8] {
        let handle: FileHandle
        if path == "-" {
            handle = .standardInput
        } else {
            guard let opened = FileHandle(forReadingAtPath: path) else { throw CLIError("cannot read '\(path)'") }
            handle = opened
        }
        defer { if path != "-" { try? handle.close() } }
        var bytes: [UInt8] = []
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            bytes += chunk
            guard bytes.count <= Preflight.maximumOctets else {
                throw CLIError("'\(path)' is larger than \(Preflight.maximumOctets >> 20) MiB; a preflight takes one rendered message")
            }
        }
        guard !bytes.isEmpty else { throw CLIError("'\(path)' is empty: give one rendered message") }
        return bytes
    }

    static func lines(_ report: PreflightReport, snapshot: AudienceSnapshot, baseURLKnown: Bool) -> String {
        var text = ""
        switch report.verdict {
        case .pass:
            text += "pass: the message to recipient \(report.recipient ?? "-") may be sent to snapshot \(snapshot.id) "
                + "(\(snapshot.count) members)\n"
        case .fail:
            text += "fail: \(report.problems.count) problem(s) in the message for snapshot \(snapshot.id)\n"
            for problem in report.problems {
                text += "  \(problem.code): \(problem.message)\n"
            }
        }
        if report.lineEndingsNormalised { text += "note: the file has LF line ends; it was read as the CRLF it will be sent as\n" }
        if report.unscannedParts > 0 { text += "note: \(report.unscannedParts) image part(s) were checked for form, not read\n" }
        if !baseURLKnown {
            text += "note: the unsubscribe link's host was not checked (give --base-url or set LISTGATE_BASE_URL)\n"
        }
        return text
    }
}

/// The message was checked, and must not be sent: exit 1, after the report.
struct PreflightFailed: UserFacingError {
    let problems: Int
    var userMessage: String { "preflight failed: \(problems) problem(s)" }
}

/// The message could not be checked at all: exit 2, so a sender's script can tell "do
/// not send this" from "the check did not run".
struct PreflightNotChecked: UserFacingError {
    let reason: String
    var userMessage: String { "not checked: \(reason)" }
    static let exitStatus: Int32 = 2
}
