// The lists the public routes look up on every request, kept in memory for a moment.
// A form post needs its list (name, locale, sender, allowed origins) before anything
// else; reading it from SQLite each time cost a database round trip per request. Lists
// are written only by `listgate lists create`, `update` and `archive`, from another
// process, so an entry is trusted for `lifetime` and then read again: a change made from
// the CLI (a new From, an archive) is seen within that time. Unknown slugs are never remembered: a list created a moment ago is found at
// once, and random slugs cannot grow the cache.
import Synchronization

public final class ListDirectory: Sendable {
    private let store: any IntakeStore
    private let lifetime: Duration
    private let entries = Mutex<[String: Entry]>([:])

    private struct Entry {
        let list: MailingList
        let readAt: ContinuousClock.Instant
    }

    public init(store: any IntakeStore, lifetime: Duration = .seconds(1)) {
        self.store = store
        self.lifetime = lifetime
    }

    /// The list with this slug, or nil if there is none (fail closed: never a default).
    public func list(_ slug: ListSlug) async throws -> MailingList? {
        let now = ContinuousClock.now
        if let entry = entries.withLock({ $0[slug.rawValue] }), now - entry.readAt < lifetime {
            return entry.list
        }
        guard let list = try await store.list(slug) else {
            entries.withLock { _ = $0.removeValue(forKey: slug.rawValue) }
            return nil
        }
        entries.withLock { $0[slug.rawValue] = Entry(list: list, readAt: now) }
        return list
    }
}
