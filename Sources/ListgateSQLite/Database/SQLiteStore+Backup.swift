// `listgate backup`: a consistent copy of the live database, taken while the server
// writes. SQLite's online backup API copies the pages of one read transaction's snapshot
// in a single step: writers are never blocked (WAL), and the copy is one moment, with
// every committed event and none half-written.
//
// Why not `VACUUM INTO`: it also copies one snapshot, and leaves no free pages, but it
// rebuilds every table and index row by row where the backup copies pages. Measured with
// the sqlite3 tool on a 224 MB database (200,000 subscribers, their events), on two busy
// shared cores: the backup API 2.3-2.7 s, VACUUM INTO 4.0-4.5 s, for a copy 4% smaller.
import Foundation
import GRDB
import ListgateCore

extension SQLiteStore {
    /// Writes the whole database into the (new or empty) file at `path`.
    public func backup(to path: String) throws {
        let destination = try DatabaseQueue(path: path)
        try pool.backup(to: destination)
        // A lease held in the live database is held by a process that does not use the copy:
        // the copy's first user must not wait for it to expire before sealing.
        try destination.write { db in try db.execute(sql: "DELETE FROM leases") }
        // The copy takes the live database's WAL mode with its pages; in rollback mode it
        // is one self-contained file, with nothing left in a -wal beside it when renamed.
        // Whoever opens it as a store switches it back to WAL.
        try destination.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
        try destination.close()
    }
}
