// The templates of one `Forms/` folder (`pages` or `mail`), with the operator's own
// files from LISTGATE_FORMS_DIR put in place of the built-in ones of the same name
// (README, "Your own wording"). Everything is read and parsed once, at start: a file that
// cannot be used stops `serve` with a line naming it, because once serving, a broken
// template fails a visitor (a page without its form, a mail without its link), not the
// operator who could fix it. For the same reason a file listgate would not use (a typo in
// its name) is an error rather than silently left out.
import Foundation
import ListgateCore
import Mustache

/// Why the operator's forms directory, or one template in it, cannot be used. The
/// description names the file.
public struct FormsError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) { self.description = description }
}

public struct TemplateSet: Sendable {
    public let library: MustacheLibrary
    /// Where each template was read from, by name: the operator's file or the built-in one.
    private let files: [String: String]
    /// The names the operator's directory replaced.
    let replaced: Set<String>
    /// The templates each template includes or extends (`{{> name}}`, `{{< name}}`).
    private let uses: [String: [String]]
    /// Each template's text as written, by name: what a consent version archives.
    private let texts: [String: String]
    /// `pages` or `mail`.
    private let folder: String

    /// The folders a forms directory may have, as in `Forms/`.
    static let folders = ["pages", "mail"]

    /// The templates in `builtIn` (one of the bundled `Forms/` folders), each replaced by
    /// `formsDirectory/folder/NAME.mustache` where that file exists.
    public static func load(builtIn: URL, folder: String, formsDirectory: String?) throws(FormsError) -> TemplateSet {
        var sources: [String: (file: String, text: String)] = [:]
        for entry in try entries(of: builtIn.path) where entry.hasSuffix(suffix) {
            let file = builtIn.appendingPathComponent(entry).path
            sources[String(entry.dropLast(suffix.count))] = ("Forms/\(folder)/\(entry)", try text(of: file))
        }
        var replaced = Set<String>()
        if let formsDirectory {
            try checkLayout(formsDirectory)
            let directory = URL(fileURLWithPath: formsDirectory).appendingPathComponent(folder)
            if isDirectory(directory.path) {
                let known = Set(sources.keys)
                for entry in try entries(of: directory.path) {
                    let file = directory.appendingPathComponent(entry).path
                    let name = entry.hasSuffix(suffix) ? String(entry.dropLast(suffix.count)) : entry
                    guard entry.hasSuffix(suffix), known.contains(name), !isDirectory(file) else {
                        throw FormsError("\(file): listgate has no \(folder == "pages" ? "page" : "mail") template of that name\(hint(for: entry, folder: folder, known: known))")
                    }
                    sources[name] = (file, try text(of: file))
                    replaced.insert(name)
                }
            }
        }
        var library = MustacheLibrary()
        var uses: [String: [String]] = [:]
        // In name order, so that of two broken files the same one is named every time.
        for (name, source) in sources.sorted(by: { $0.key < $1.key }) {
            do {
                try library.register(source.text, named: name)
            } catch let error as MustacheTemplate.ParserError {
                let place = "\(source.file):\(error.context.lineNumber):\(error.context.columnNumber)"
                throw FormsError("\(place): cannot be read as a template: \(explain(error.error))")
            } catch {
                throw FormsError("\(source.file): cannot be read as a template: \(error)")
            }
            uses[name] = partials(in: source.text)
        }
        for (name, used) in uses.sorted(by: { $0.key < $1.key }) {
            for partial in used where library.getTemplate(named: partial) == nil {
                throw FormsError("\(sources[name]!.file): uses a template named \"\(partial)\", and there is none")
            }
        }
        return TemplateSet(
            library: library, files: sources.mapValues(\.file), replaced: replaced, uses: uses,
            texts: sources.mapValues(\.text), folder: folder)
    }

    /// The template and every template it uses, as written, named `folder/name` (the
    /// consent wording they make part of).
    public func wording(of name: String) -> [ConsentWording.Part] {
        var seen: [String] = []
        var queue = [name]
        while let next = queue.popLast() {
            guard !seen.contains(next), texts[next] != nil else { continue }
            seen.append(next)
            queue += uses[next] ?? []
        }
        return seen.compactMap { used in texts[used].map { ConsentWording.Part(name: "\(folder)/\(used)", text: $0) } }
    }

    /// The file a template was read from, for messages.
    public func file(_ name: String) -> String { files[name] ?? "\(name).mustache" }

    /// The files to blame when a template renders wrongly: the operator's among it and the
    /// templates it uses (a replaced layout can break a built-in page), else the template.
    public func culprits(_ name: String) -> String {
        var seen: [String] = []
        var queue = [name]
        while let next = queue.popLast() {
            guard !seen.contains(next) else { continue }
            seen.append(next)
            queue += uses[next] ?? []
        }
        let operators = seen.filter(replaced.contains)
        return (operators.isEmpty ? [name] : operators).map(file).joined(separator: " or ")
    }

    private static let suffix = ".mustache"

    /// A forms directory holds `pages/` and `mail/` and nothing else (a README is allowed,
    /// as `Forms/` has one; names starting with a dot, such as an editor's swap files, are
    /// not looked at).
    static func checkLayout(_ formsDirectory: String) throws(FormsError) {
        guard isDirectory(formsDirectory) else {
            throw FormsError("forms directory \(formsDirectory): there is no such directory")
        }
        for entry in try entries(of: formsDirectory) where entry != "README.md" {
            guard folders.contains(entry), isDirectory(URL(fileURLWithPath: formsDirectory).appendingPathComponent(entry).path)
            else {
                throw FormsError(
                    "\(URL(fileURLWithPath: formsDirectory).appendingPathComponent(entry).path): a forms directory holds only pages/ and mail/")
            }
        }
    }

    /// The directory's entries, sorted (so the first problem named is the same every time),
    /// without hidden ones.
    private static func entries(of directory: String) throws(FormsError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw FormsError("\(directory): cannot be read")
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    /// The file as UTF-8 text. A Japanese editor may save Shift_JIS (CP932): refused, since
    /// decoding it as UTF-8 would put mojibake on every page. A leading byte order mark
    /// (Notepad's) is dropped: it would otherwise be the first character of a subject.
    private static func text(of file: String) throws(FormsError) -> String {
        guard let data = FileManager.default.contents(atPath: file) else { throw FormsError("\(file): cannot be read") }
        guard var text = String(validating: data, as: UTF8.self) else {
            throw FormsError("\(file): is not UTF-8 text (save it as UTF-8)")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return text
    }

    /// Names of the templates a template includes (`{{> name}}`) or extends (`{{< name}}`),
    /// written with the standard delimiters (as every one listgate ships is).
    static func partials(in text: String) -> [String] {
        text.matches(of: /\{\{\s*[<>]\s*([^\s}*]+)\s*\}\}/).map { String($0.output.1) }
    }

    private static func explain(_ error: any Error) -> String {
        switch error as? MustacheTemplate.Error {
        case .sectionCloseNameIncorrect: "a section is closed with another name than it was opened with"
        case .unfinishedName: "a tag is not closed with }}"
        case .expectedSectionEnd: "a section ({{#…}}, {{^…}}, {{$…}} or {{<…}}) is never closed"
        case .invalidSetDelimiter: "a set-delimiter tag ({{=…=}}) is malformed"
        case .transformAppliedToInheritanceSection, .illegalTokenInsideInheritSection, .textInsideInheritSection:
            "a parent tag ({{<…}}) may hold only blocks ({{$…}})"
        case .invalidConfigVariableSyntax, .unrecognisedConfigVariable: "a {{%…}} tag is malformed"
        case nil: String(describing: error)
        }
    }

    /// " (did you mean …?)" for a name a typo away from a known one; otherwise where the
    /// file belongs, or where the names are listed.
    private static func hint(for entry: String, folder: String, known: Set<String>) -> String {
        let closest = known.map { ($0 + suffix, distance($0 + suffix, entry)) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        if let closest, closest.1 <= 3 { return " (did you mean \(closest.0)?)" }
        // Pages are PAGE.LOCALE, mail templates KIND.LOCALE.PART.
        let parts = entry.dropLast(entry.hasSuffix(suffix) ? suffix.count : 0).split(separator: ".").count
        if entry.hasSuffix(suffix), folder == "pages", parts == 3 { return " (mail templates go in mail/)" }
        if entry.hasSuffix(suffix), folder == "mail", parts == 2 { return " (page templates go in pages/)" }
        return "; the names are those in Forms/\(folder)/"
    }

    /// Levenshtein distance, over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
