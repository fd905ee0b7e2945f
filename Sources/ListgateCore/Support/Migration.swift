// Schema migrations: the `NNNN_name.sql` files each store ships with the binary
// (`Migrations/` for SQLite, `PostgresMigrations/` for PostgreSQL), applied in name order
// and recorded with their SHA-256 so an edited or unknown migration is refused rather
// than half-understood. What a migration is belongs to no dialect; each store bundles
// and applies its own.
import Crypto
import Foundation

public struct Migration: Sendable, Equatable {
    public let name: String
    public let sql: String

    public init(name: String, sql: String) throws(StoreError) {
        guard Migration.isValidName(name) else { throw .invalidMigrationName(name) }
        self.name = name
        self.sql = sql
    }

    public var checksum: String { SHA256.hex(Data(sql.utf8)) }

    /// Every `*.sql` file in `directory`, sorted by name.
    public static func load(from directory: URL) throws -> [Migration] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        return try names.map { name in
            try Migration(name: name, sql: String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
    }

    /// `NNNN_lower_snake.sql`: four digits make lexical order the apply order.
    static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count > 9, name.hasSuffix(".sql") else { return false }
        let digits = bytes.prefix(4)
        let stem = bytes.dropFirst(5).dropLast(4)
        return digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
            && bytes[4] == UInt8(ascii: "_")
            && !stem.isEmpty
            && stem.allSatisfy {
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
            }
    }
}
