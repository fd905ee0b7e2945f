// The SQLite migrations bundled with this build (`Migrations/`).
import Foundation
import ListgateCore

extension Migration {
    /// The migrations bundled with this build, in the order they apply.
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw StoreError.migrationFailed(name: "Migrations", reason: "the bundled migrations directory is missing")
        }
        return try load(from: directory)
    }
}
