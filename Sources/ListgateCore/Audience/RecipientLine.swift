// One NDJSON line per recipient of a frozen audience, as the sender API streams them
// (README: recipient_id, email, name, subscribed_at, unsubscribe_url, list_unsubscribe,
// list_unsubscribe_post). This is the sender API's wire format for the stream; a store
// reads the rows and hands each one's column bytes to `append`, so no store writes JSON.
// Built from bytes because a snapshot can hold a million people: one call per row crosses
// the module boundary, and everything inside it (escaping, the signed link) stays here.

public struct RecipientLine {
    private var line: JSONLine
    private let links: UnsubscribeLinkWriter
    private var url: [UInt8] = []
    private var header: [UInt8] = []

    /// `expected` recipients are reserved for up front, so the buffer is not regrown and
    /// copied while a page is written.
    public init(links: LinkBuilder, expected: Int) {
        self.links = links.unsubscribeLinks()
        line = JSONLine(reservingCapacity: expected * (400 + links.baseURL.utf8.count * 2))
    }

    /// Appends one recipient; every argument is UTF-8 as stored.
    public mutating func append(
        email: UnsafeBufferPointer<UInt8>, name: UnsafeBufferPointer<UInt8>?,
        subscribedAt: UnsafeBufferPointer<UInt8>, subscriptionID: UnsafeBufferPointer<UInt8>,
        recipientID: UnsafeBufferPointer<UInt8>
    ) {
        url.removeAll(keepingCapacity: true)
        links.append(subscription: subscriptionID, to: &url)
        header.removeAll(keepingCapacity: true)
        header.append(UInt8(ascii: "<"))
        header.append(contentsOf: url)
        header.append(UInt8(ascii: ">"))
        // Opaque and stable: what the unsubscribes feed names when this person is erased.
        line.field("recipient_id", utf8: recipientID)
        line.field("email", utf8: email)
        line.field("name", utf8: name)
        line.field("subscribed_at", utf8: subscribedAt)
        url.withUnsafeBufferPointer { line.field("unsubscribe_url", utf8: $0) }
        header.withUnsafeBufferPointer { line.field("list_unsubscribe", utf8: $0) }
        line.field("list_unsubscribe_post", "List-Unsubscribe=One-Click")
        line.endObject()
    }

    /// The lines appended so far.
    public mutating func finish() -> [UInt8] { line.take() }
}
