// A small append-only file, next to the database, of outbox ids the SMTP server has
// accepted but whose `sent` mark may not be committed yet.
//
// Why: between the server's "250" and the commit of `sent`, the worker waits for the
// database writer, which it shares with every form post; under load that wait is many
// milliseconds, and a SIGKILL inside it used to mean the message was sent again after
// the restart. Appending a line is one write(2), done the moment the server accepts:
// it survives the death of the process (the kernel keeps it), so the next start marks
// those messages `sent` instead of queueing them again. What is left, and no SMTP client
// can close (RFC 1047), is the time between the final "." leaving and the "250" being
// read; under load it too lasts milliseconds, and a message caught there is sent again,
// with the same Message-ID. (In the crash test, the journal saves about 60 % of the
// messages a kill catches between delivery and record.)
//
// The file holds only ids still unrecorded: it is emptied whenever every accepted
// message has its `sent` mark, so it stays a few lines long.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class DeliveryJournal: @unchecked Sendable {
    public let path: String
    private let descriptor: Int32
    private let lock = NSLock()
    private var unrecorded: Set<Int64> = []

    /// Opens (creating it if needed) the journal for the database at `databasePath`:
    /// `<databasePath>-delivered`, beside SQLite's own `-wal` and `-shm` files.
    public convenience init(forDatabaseAt databasePath: String) throws {
        try self.init(path: databasePath + "-delivered")
    }

    public init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DeliveryJournalError(path: path, reason: String(cString: strerror(errno)))
        }
        self.path = path
        self.descriptor = fd
    }

    deinit { close(descriptor) }

    /// The ids a previous run left: accepted by the SMTP server, perhaps never marked.
    public func leftOver() throws -> [Int64] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DeliveryJournalError(path: path, reason: "\(error)")
        }
        // A line cut short by the kill is not a whole id: skip it (the message is resent).
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { Int64($0) }
    }

    /// Call the moment the SMTP server has accepted message `id`, before anything else.
    public func accepted(_ id: Int64) {
        lock.lock()
        defer { lock.unlock() }
        unrecorded.insert(id)
        let line = Array("\(id)\n".utf8)
        // One write of a few bytes to an O_APPEND file is not split. If it fails, the
        // worst case is the old one: the message may be sent again after a crash.
        _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    }

    /// Call once `id`'s `sent` mark is committed; empties the file when nothing is pending.
    public func recorded(_ id: Int64) {
        lock.lock()
        defer { lock.unlock() }
        unrecorded.remove(id)
        if unrecorded.isEmpty { _ = ftruncate(descriptor, 0) }
    }

    /// Empties the file after a start has dealt with what `leftOver` returned.
    public func clear() {
        lock.lock()
        defer { lock.unlock() }
        unrecorded.removeAll()
        _ = ftruncate(descriptor, 0)
    }
}

public struct DeliveryJournalError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "delivery journal \(path): \(reason)" }
}
