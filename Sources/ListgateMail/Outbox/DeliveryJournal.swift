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
// The file holds only ids still unrecorded: it is wiped whenever every accepted message
// has its `sent` mark, so it stays a few lines long. Its space is reserved when it is
// opened (64 KiB, about 4,000 ids) and reused, never given back: on a full disk the one
// write that must not fail, the note of an acceptance, still has room. Wiped bytes are
// NULs, which `leftOver` skips.
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
    /// Where the next id is written; everything before it is ids, everything after NULs.
    private var end: off_t = 0
    static let reservedBytes: off_t = 64 * 1024

    /// Opens (creating it if needed) the journal for the database at `databasePath`:
    /// `<databasePath>-delivered`, beside SQLite's own `-wal` and `-shm` files.
    public convenience init(forDatabaseAt databasePath: String) throws {
        try self.init(path: databasePath + "-delivered")
    }

    public init(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DeliveryJournalError(path: path, reason: String(cString: strerror(errno)))
        }
        // One `listgate serve` per database: the journal has one writer, and two servers on
        // one SQLite file would each think the other's deliveries were interrupted.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DeliveryJournalError(path: path, reason: "another listgate serve is already using this database")
        }
        // Real blocks, not a sparse file: writing into them needs no free space later.
        let reserved = posix_fallocate(fd, 0, Self.reservedBytes)
        guard reserved == 0 else {
            close(fd)
            throw DeliveryJournalError(path: path, reason: "cannot reserve its space: \(String(cString: strerror(reserved)))")
        }
        self.path = path
        self.descriptor = fd
        // Continue after what a previous run left (until `clear`), so nothing is overwritten.
        var bytes = [UInt8](repeating: 0, count: Int(Self.reservedBytes))
        let read = pread(fd, &bytes, bytes.count, 0)
        end = off_t(max(0, bytes[0..<max(0, read)].lastIndex { $0 != 0 }.map { $0 + 1 } ?? 0))
    }

    deinit { close(descriptor) }

    /// The ids a previous run left: accepted by the SMTP server, perhaps never marked.
    public func leftOver() throws -> [Int64] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw DeliveryJournalError(path: path, reason: "\(error)")
        }
        // A line cut short by the kill is not a whole id: skip it (the message is resent).
        // NULs are wiped or reserved space.
        return data.split(whereSeparator: { $0 == UInt8(ascii: "\n") || $0 == 0 })
            .compactMap { Int64(String(decoding: $0, as: UTF8.self)) }
    }

    /// Call the moment the SMTP server has accepted message `id`, before anything else.
    /// False if the note could not be written (then a crash before the `sent` mark is
    /// committed would send the message again): the caller says so in the log.
    @discardableResult
    public func accepted(_ id: Int64) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        unrecorded.insert(id)
        let line = Array("\(id)\n".utf8)
        // Beyond the reserved space (thousands of unrecorded ids) the file grows as before.
        let written = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, end) }
        guard written == line.count else { return false }
        end += off_t(written)
        return true
    }

    /// Call once `id`'s `sent` mark is committed; wipes the file when nothing is pending.
    public func recorded(_ id: Int64) {
        lock.lock()
        defer { lock.unlock() }
        unrecorded.remove(id)
        if unrecorded.isEmpty { wipe() }
    }

    /// Wipes the file after a start has dealt with what `leftOver` returned.
    public func clear() {
        lock.lock()
        defer { lock.unlock() }
        unrecorded.removeAll()
        wipe()
    }

    /// Overwrites the ids with NULs, keeping the blocks (a truncate would give them back
    /// and the next note could then find the disk full).
    private func wipe() {
        guard end > 0 else { return }
        let zeros = [UInt8](repeating: 0, count: Int(end))
        _ = zeros.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        end = 0
    }
}

public struct DeliveryJournalError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "delivery journal \(path): \(reason)" }
}
