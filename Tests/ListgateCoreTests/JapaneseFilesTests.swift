// Specification of what a Japanese company's files bring to an import: CP932 (Excel's
// Japanese "CSV") told apart from UTF-8 and decoded, Japanese column names, and times
// written in the company's own time zone. The CP932 bytes here are spelled out by hand
// (checked against Python's cp932 codec); the CLI tests use files Python writes.
import Foundation
import Testing
@testable import ListgateCore

@Suite("Japanese files")
struct JapaneseFilesTests {
    /// 山田 髙橋 ①～ in CP932: 髙 (0xFBFC) is an IBM extension, ① (0x8740) an NEC one, and
    /// 0x8160 is ～ U+FF5E in CP932 (U+301C in plain Shift_JIS).
    static let cp932Name: [UInt8] = [0x8E, 0x52, 0x93, 0x63, 0x20, 0xFB, 0xFC, 0x8B, 0xB4, 0x20, 0x87, 0x40, 0x81, 0x60]
    static let decodedName = "山田 髙橋 ①～"
    /// メールアドレス,氏名 in CP932.
    static let cp932Header: [UInt8] = [
        0x83, 0x81, 0x81, 0x5B, 0x83, 0x8B, 0x83, 0x41, 0x83, 0x68, 0x83, 0x8C, 0x83, 0x58, 0x2C, 0x8E, 0x81, 0x96, 0xBC,
    ]

    final class TempFile {
        let path: String
        init(_ bytes: [UInt8]) throws {
            path = FileManager.default.temporaryDirectory.appendingPathComponent("listgate-jp-\(UUID().uuidString).csv").path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Everything the opened input hands out, read in small pieces.
    static func decoded(_ source: ByteSource) throws -> [UInt8] {
        var all: [UInt8] = []
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try source.read(into: buffer, count: 16)
            if n == 0 { return all }
            all += UnsafeBufferPointer(start: buffer, count: n)
        }
    }

    @Test("auto reads a file that is all UTF-8 as UTF-8, byte for byte")
    func autoUTF8() throws {
        let text = Array("\u{FEFF}メールアドレス,氏名\r\ntaro@example.jp,髙橋 ①\r\n".utf8)
        let file = try TempFile(text)
        let input = try ImportInput.open(path: file.path, encoding: .auto)
        #expect(input.encoding == .utf8)
        #expect(try Self.decoded(input.source) == text)
    }

    @Test("auto reads a file that is not UTF-8 but is CP932 as CP932, NEC and IBM extensions included")
    func autoCP932() throws {
        let bytes = Self.cp932Header + [0x0D, 0x0A] + Array("taro@example.jp,".utf8) + Self.cp932Name + [0x0D, 0x0A]
        let file = try TempFile(bytes)
        let input = try ImportInput.open(path: file.path, encoding: .auto)
        #expect(input.encoding == .cp932)
        let text = String(decoding: try Self.decoded(input.source), as: UTF8.self)
        #expect(text == "メールアドレス,氏名\r\ntaro@example.jp,\(Self.decodedName)\r\n")
    }

    @Test("a CP932 character cut in two by a read boundary decodes whole")
    func characterAcrossChunks() throws {
        // The decoder reads 64 KiB at a time: put 髙's two bytes on either side of that.
        let bytes = Array(repeating: UInt8(ascii: "a"), count: (1 << 16) - 1) + [0xFB, 0xFC] + Array("\n".utf8)
        let file = try TempFile(bytes)
        let input = try ImportInput.open(path: file.path, encoding: .cp932)
        let text = String(decoding: try Self.decoded(input.source), as: UTF8.self)
        #expect(text.hasSuffix("a髙\n"))
        #expect(text.utf8.count == (1 << 16) - 1 + 3 + 1)
    }

    @Test("a file that is neither UTF-8 nor CP932 is refused, and UTF-16 is named")
    func neither() throws {
        let utf16 = try TempFile([0xFF, 0xFE] + Array("email\r\n".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        #expect(throws: DataFileError.unknownEncoding(name: utf16.path, utf16: true)) {
            try ImportInput.open(path: utf16.path, encoding: .auto)
        }
        // 0x80 and 0xA0 are bytes CP932 does not use; the file is not UTF-8 either.
        let other = try TempFile(Array("email\n".utf8) + [0x80, 0xA0] + Array("@example.jp\n".utf8))
        #expect(throws: DataFileError.unknownEncoding(name: other.path, utf16: false)) {
            try ImportInput.open(path: other.path, encoding: .auto)
        }
        #expect(throws: DataFileError.notCP932(name: other.path)) {
            try ImportInput.open(path: other.path, encoding: .cp932)
        }
        // A double-byte character cut off by the end of the file.
        let truncated = try TempFile(Array("email\n".utf8) + [0x8E])
        #expect(throws: DataFileError.self) { try ImportInput.open(path: truncated.path, encoding: .auto) }
    }

    @Test("--encoding utf-8 streams the file as it is, as before")
    func explicitUTF8() throws {
        let bytes = Self.cp932Header + [0x0A]
        let file = try TempFile(bytes)
        let input = try ImportInput.open(path: file.path, encoding: .utf8)
        #expect(input.encoding == .utf8)
        #expect(try Self.decoded(input.source) == bytes)
    }

    @Test("Japanese column names, in full-width and half-width forms too", arguments: [
        "メールアドレス,氏名,状態,登録日時",
        "メール,名前,ステータス,登録日時",
        "Eメール,お名前,状態,登録日時",
        "Ｅメール,お名前,ステータス,登録日時",
        "ﾒｰﾙｱﾄﾞﾚｽ, 氏名 ,ｽﾃｰﾀｽ,登録日時",
        "ｅｍａｉｌ,ｎａｍｅ,status,subscribed_at",
        "メールアドレス\u{3000},氏名,状態,登録日時",
    ])
    func japaneseHeaders(_ header: String) throws {
        let reader = try SubscriberFileReader(
            source: InMemoryByteSource("\(header)\r\ntaro@example.jp,山田 太郎,pending,2024-04-01 09:30:00\r\n"),
            format: .csv, name: "test")
        #expect(reader.ignoredColumns.isEmpty)
        #expect(try reader.next() == .row(RawImportRow(
            line: 2, email: "taro@example.jp", name: "山田 太郎", status: "pending", subscribedAt: "2024-04-01 09:30:00")))
    }

    @Test("an English and a Japanese name for one column is refused as a column named twice")
    func bothNames() throws {
        #expect(throws: DataFileError.duplicateColumn("メールアドレス")) {
            try SubscriberFileReader(source: InMemoryByteSource("email,メールアドレス\n"), format: .csv, name: "test")
        }
    }

    @Test("times without an offset are read in --timezone; times with one are not moved")
    func timeZone() throws {
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        let rules = try ImportRules(consentNote: "x", timeZone: tokyo, now: Date(timeIntervalSince1970: 1_795_000_000))
        func subscribedAt(_ text: String) throws -> String? {
            try rules.record(from: RawImportRow(line: 2, email: "a@example.org", subscribedAt: text)).get().subscribedAt
        }
        #expect(try subscribedAt("2024-04-01 09:30:00") == "2024-04-01T00:30:00.000Z")
        #expect(try subscribedAt("2024-04-01T09:30:00") == "2024-04-01T00:30:00.000Z")
        #expect(try subscribedAt("2024-04-01") == "2024-03-31T15:00:00.000Z")
        #expect(try subscribedAt("2024-04-01T09:30:00Z") == "2024-04-01T09:30:00.000Z")
        #expect(try subscribedAt("2024-04-01T09:30:00+02:00") == "2024-04-01T07:30:00.000Z")

        // A zone with daylight saving: its offset on that date, not today's.
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        let summer = try ImportRules(consentNote: "x", timeZone: newYork, now: Date(timeIntervalSince1970: 1_795_000_000))
        let july = summer.record(from: RawImportRow(line: 2, email: "a@example.org", subscribedAt: "2024-07-01 12:00:00"))
        #expect(try july.get().subscribedAt == "2024-07-01T16:00:00.000Z")
        let january = summer.record(from: RawImportRow(line: 2, email: "a@example.org", subscribedAt: "2024-01-02 12:00:00"))
        #expect(try january.get().subscribedAt == "2024-01-02T17:00:00.000Z")
    }

    @Test("Excel's way of writing a date cell, 2024/4/1 9:30, is a wall-clock time too", arguments: [
        ("2024/4/1 9:30", "2024-04-01T00:30:00.000Z"),
        ("2024/04/01 09:30:00", "2024-04-01T00:30:00.000Z"),
        ("2024/4/1", "2024-03-31T15:00:00.000Z"),
        ("2024/12/31 23:59:59", "2024-12-31T14:59:59.000Z"),
    ])
    func excelDates(_ text: String, _ stored: String) throws {
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        let rules = try ImportRules(consentNote: "x", timeZone: tokyo, now: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(try rules.record(from: RawImportRow(line: 2, email: "a@example.org", subscribedAt: text)).get().subscribedAt == stored)
    }

    @Test("a slashed date that is not a real date or time is a bad row", arguments: [
        "2024/2/30", "2024/13/1", "24/4/1", "2024/4/1 25:00", "2024/4/1 9:3", "2024/4/1 9:30 PM", "2024/4", "2024/4/1/2",
    ])
    func badExcelDates(_ text: String) throws {
        let rules = try ImportRules(consentNote: "x", now: Date(timeIntervalSince1970: 1_795_000_000))
        #expect(throws: ImportProblem.self) {
            try rules.record(from: RawImportRow(line: 2, email: "a@example.org", subscribedAt: text)).get()
        }
    }

    @Test("the default zone is UTC, as before")
    func defaultZone() throws {
        let rules = try ImportRules(consentNote: "x", now: Date(timeIntervalSince1970: 1_795_000_000))
        let record = rules.record(from: RawImportRow(line: 2, email: "a@example.org", subscribedAt: "2024-04-01 09:30:00"))
        #expect(try record.get().subscribedAt == "2024-04-01T09:30:00.000Z")
    }

    @Test("an address typed with the IME on is imported in its ASCII form")
    func fullWidthAddress() throws {
        let rules = try ImportRules(consentNote: "x")
        let record = try rules.record(from: RawImportRow(line: 2, email: "ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ\u{3000}")).get()
        #expect(record.email == "taro@example.jp")
        #expect(record.identityKey == "taro@example.jp")
    }
}
