// Delivery into a directory: one `.eml` file per message, for development, tests and
// installations where something else picks the files up. A reader never sees a partial
// file: each message is written to a dot-file first and renamed into place.
import Foundation
import ListgateCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct FileTransport: MailTransport {
    public let directory: URL

    /// The directory is created (with its parents) on the first delivery if missing.
    public init(directory: URL) {
        self.directory = directory
    }

    /// Writes `<yyyyMMdd-HHmmss-SSS UTC>-<8 hex>.eml` holding exactly `message`. The
    /// envelope is not recorded: the message's own To: header names the recipient.
    public func send(_ message: [UInt8], from sender: EmailAddress, to recipient: Recipient) async throws(DeliveryError) {
        let name = Self.fileName(at: Date(), random: UInt32.random(in: .min ... .max))
        let final = directory.appendingPathComponent(name, isDirectory: false)
        let temporary = directory.appendingPathComponent("." + name + ".tmp", isDirectory: false)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(message).write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw .transient("cannot write \(temporary.path): \(error.localizedDescription)")
        }
        guard rename(temporary.path, final.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw .transient("cannot rename \(temporary.path) to \(final.lastPathComponent): \(reason)")
        }
    }

    /// `20250102-030405-006-0a1b2c3d.eml`: sorts by time, UTC, millisecond precision.
    static func fileName(at date: Date, random: UInt32) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds.quotientAndRemainder(dividingBy: 1000).quotient)
        let millisecond = Int(milliseconds - Int64(seconds) * 1000)
        var utc = tm()
        gmtime_r(&seconds, &utc)
        let hex = String(random, radix: 16)
        return pad(Int(utc.tm_year) + 1900, 4) + pad(Int(utc.tm_mon) + 1, 2) + pad(Int(utc.tm_mday), 2)
            + "-" + pad(Int(utc.tm_hour), 2) + pad(Int(utc.tm_min), 2) + pad(Int(utc.tm_sec), 2)
            + "-" + pad(millisecond, 3)
            + "-" + String(repeating: "0", count: 8 - hex.count) + hex + ".eml"
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
