// Free space where the database lives, for /healthz. On a full disk SQLite still answers
// reads, so "the database answers" said ok while every write failed; and a write that is
// rolled back proves nothing (its pages never leave memory), so the file system is asked.
import Foundation

public struct DiskSpace: Sendable, Equatable {
    /// The database file; its directory is where the log and the journals grow too.
    public var databasePath: String
    /// Below this many free bytes /healthz reports failure: writes are about to fail.
    public var minimumFreeBytes: Int64

    public init(databasePath: String, minimumFreeBytes: Int64 = 16 << 20) {
        self.databasePath = databasePath
        self.minimumFreeBytes = minimumFreeBytes
    }

    /// Bytes this process may still write in the database's directory; nil when the file
    /// system cannot be asked (the directory is gone, for one).
    public func freeBytes() -> Int64? {
        Self.freeBytes(inDirectoryOf: databasePath)
    }

    public var isLow: Bool {
        guard let free = freeBytes() else { return true }
        return free < minimumFreeBytes
    }

    public static func freeBytes(inDirectoryOf path: String) -> Int64? {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        // Blocks free to an unprivileged writer: root's reserve is not ours to count on.
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }
}
