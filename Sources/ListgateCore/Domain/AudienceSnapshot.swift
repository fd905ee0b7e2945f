// A frozen audience: the active, unsuppressed members of one list at one moment, stored
// (not recomputed) with their count and a SHA-256 over their sorted identity keys, so
// what a sender reviewed is exactly what it sends (INCIDENTS.md, GooPass 2020).
import Foundation

public struct AudienceSnapshot: Sendable, Equatable {
    public let id: String
    public let listSlug: String
    public let listID: Int64
    public let count: Int
    /// SHA-256 (hex) of the sorted identity keys joined by "\n"; of "" when empty.
    public let sha256: String
    public let createdAt: Date
}

public protocol SnapshotStore: Sendable {
    /// Freezes the list's audience now. An empty audience is a snapshot of count 0.
    func takeSnapshot(listID: Int64, tokenID: String?, source: EventSource) async throws -> AudienceSnapshot
    func snapshot(id: String) async throws -> AudienceSnapshot?
}
