// The sender's guard before a campaign: one rendered newsletter, checked against the
// snapshot it is meant for, with the outbox's own reader and guard (so what passes here
// is read the same way there), plus what only the sender's side can know: is the To a
// member of the snapshot, is the From the list's, are the unsubscribe header and link the
// recipient's own, does it show the sender's identity, and how many of the foreign
// addresses in it belong to the list's subscribers. A bad message is a `fail` report; only
// the store can throw. The report and the ledger get counts and codes, never an address.

import ListgateCore

/// A preflight asked of a snapshot together with another list than its own: the caller's
/// mistake, refused before anything is read or recorded.
public enum PreflightMisuse: Error, Equatable, Sendable {
    case snapshotOfAnotherList
}

public struct Preflight: Sendable {
    /// Larger messages are refused before they are read (413 from the API).
    public static let maximumOctets = 10 << 20

    private let store: any PreflightStore
    private let links: LinkBuilder
    /// Without a base URL (the CLI may not know it) only the link's path is compared.
    private let baseURLKnown: Bool

    public init(store: any PreflightStore, links: LinkBuilder, baseURLKnown: Bool = true) {
        self.store = store
        self.links = links
        self.baseURLKnown = baseURLKnown
    }

    public func check(
        _ raw: [UInt8], snapshot: AudienceSnapshot, list: MailingList, source: EventSource
    ) async throws -> PreflightReport {
        // The To is looked up in the snapshot and the subscribers in the list: both must
        // be one audience, or a message would be judged against a list it is not for.
        guard snapshot.listID == list.id else { throw PreflightMisuse.snapshotOfAnotherList }
        let report = try await judge(raw, snapshot: snapshot, list: list)
        try await store.recordPreflight(
            PreflightRecord(
                listID: list.id, snapshotID: snapshot.id, passed: report.verdict == .pass,
                problemCodes: report.problemCodes, foreignAddresses: report.foreignAddresses,
                subscriberAddresses: report.subscriberAddresses, octets: raw.count),
            source: source)
        return report
    }

    private func judge(_ raw: [UInt8], snapshot: AudienceSnapshot, list: MailingList) async throws -> PreflightReport {
        guard raw.count <= Self.maximumOctets else {
            return failure(PreflightProblem("message_too_large", "the message is larger than 10 MiB"), normalised: false)
        }
        // A file saved on Unix has LF line ends throughout; read it as the CRLF it will be
        // sent as. Mixed line ends stay as they are, and fail.
        let normalised = !raw.contains(0x0D) && raw.contains(0x0A)
        let octets = normalised ? Self.crlf(raw) : raw
        let reading: MessageReading
        do {
            reading = try MessageReading.read(octets)
        } catch {
            return failure(PreflightProblem(error.code, error.reason), normalised: normalised)
        }

        var problems: [PreflightProblem] = []
        // 3. The To: one mailbox, a member of this snapshot.
        let toAddress = Self.toAddress(in: reading.fields)
        var recipient: SnapshotRecipient?
        if let toAddress {
            recipient = try await store.snapshotRecipient(snapshotID: snapshot.id, identityKey: toAddress.identityKey)
            if recipient == nil {
                problems.append(PreflightProblem(
                    "recipient_not_in_snapshot", "the To header's address is not a member of snapshot \(snapshot.id)"))
            }
        } else {
            problems.append(PreflightProblem("to_not_one_address", "the To header does not name exactly one address"))
        }

        // 4. Copy fields and foreign addresses, by the outbox's own guard.
        let contentGuard = ContentGuard(optionalRecipient: toAddress, allowed: list.addressesMailMayContain)
        var tally = ForeignAddressTally()
        do {
            let findings = try contentGuard.findings(in: reading)
            tally = findings.tally
            if !findings.copyFields.isEmpty {
                let names = findings.copyFields.count == 1
                    ? "a \(findings.copyFields[0]) header" : "\(findings.copyFields.joined(separator: ", ")) headers"
                problems.append(PreflightProblem("copy_header", "the message has \(names); only To may name a recipient"))
            }
        } catch {
            problems.append(PreflightProblem(error.code, error.reason))
        }

        // 5. The From.
        let froms = reading.fields.filter { $0.lowercasedName == "from" }
        let from = froms.count == 1 ? try? Mailbox(froms[0].value) : nil
        if from?.address != list.from.address {
            problems.append(PreflightProblem("from_not_list", "the From header is not the list's From address"))
        }

        // 6. and 7. Unsubscribe headers and link, and the sender's identity.
        let parts = reading.texts.compactMap { text -> (mediaType: String, text: String)? in
            guard case .part(_, let mediaType) = text.place else { return nil }
            return (mediaType, text.text)
        }
        let shown = SenderIdentityCheck(parts: parts)
        if let recipient {
            problems += unsubscribeProblems(reading.fields, recipient: recipient, shown: shown)
        }
        problems += identityProblems(snapshot.senderIdentity, shown: shown)

        // 8. Which foreign addresses are subscribers'.
        let all = tally.allAddresses
        var candidates = Set<String>()
        for keys in all.values { candidates.formUnion(keys) }
        var subscribed = Set<String>()
        if !candidates.isEmpty {
            subscribed = try await store.subscribedKeys(listID: list.id, among: candidates.sorted())
        }
        // A token counts as a subscriber's when any of its readings is a subscriber's key.
        func subscribers(_ addresses: [String: [String]]) -> Int {
            addresses.values.count { keys in keys.contains { subscribed.contains($0) } }
        }
        let subscriberCount = subscribers(all)
        if !tally.places.isEmpty {
            let places = tally.places.map { place in
                PreflightPlace(place: place.phrase, addresses: tally.count(at: place),
                               subscribers: subscribers(tally.addresses(at: place)))
            }
            var message = places.map(Self.sentence).joined(separator: "; ")
            if tally.isTruncated {
                message += " (past \(Self.grouped(ForeignAddressTally.maximumKept)) addresses, each further one is counted "
                    + "where it occurs and is not looked up among the subscribers)"
            }
            // The worst problem leads: a leak of other subscribers' addresses.
            problems.insert(PreflightProblem("foreign_addresses", message, places: places), at: 0)
        }

        return PreflightReport(
            recipient: recipient?.recipientID, problems: problems, foreignAddresses: all.count + tally.countBeyondBound,
            subscriberAddresses: subscriberCount, lineEndingsNormalised: normalised,
            unscannedParts: reading.parts.count { !$0.isScanned })
    }

    private func failure(_ problem: PreflightProblem, normalised: Bool) -> PreflightReport {
        PreflightReport(recipient: nil, problems: [problem], foreignAddresses: 0, subscriberAddresses: 0,
                        lineEndingsNormalised: normalised, unscannedParts: 0)
    }

    /// The one address of the one To field; nil when there is not exactly one.
    private static func toAddress(in fields: [HeaderField]) -> EmailAddress? {
        let toFields = fields.filter { $0.lowercasedName == "to" }
        guard toFields.count == 1, let mailbox = try? ContentGuard.singleMailbox(in: toFields[0]) else { return nil }
        return mailbox.address
    }

    private func unsubscribeProblems(
        _ fields: [HeaderField], recipient: SnapshotRecipient, shown: SenderIdentityCheck
    ) -> [PreflightProblem] {
        let link = links.unsubscribe(subscription: recipient.subscriptionID)
        // "/unsubscribe/TOKEN": the same for every base URL.
        let path = String(link.dropFirst(links.baseURL.count))
        var problems: [PreflightProblem] = []
        let listUnsubscribe = fields.filter { $0.lowercasedName == "list-unsubscribe" }
        if listUnsubscribe.isEmpty {
            problems.append(PreflightProblem("list_unsubscribe_missing", "the message has no List-Unsubscribe header"))
        } else {
            let wanted = baseURLKnown ? "<\(link)>" : "\(path)>"
            if !listUnsubscribe.contains(where: { $0.value.contains(wanted) }) {
                // Python's email package (policy.SMTP) folds a long URL by MIME-encoding
                // it; mail clients read List-Unsubscribe as written, so say what happened.
                let encoded = listUnsubscribe.contains { $0.value.contains("=?") }
                problems.append(PreflightProblem(
                    "list_unsubscribe_wrong",
                    encoded
                        ? "the List-Unsubscribe header is MIME-encoded (=?…?=), which mail clients do not decode there: "
                            + "write it as <URL> on one line of up to 998 octets"
                        : "the List-Unsubscribe header does not hold the recipient's unsubscribe link"))
            }
        }
        let post = fields.filter { $0.lowercasedName == "list-unsubscribe-post" }
        if post.count != 1 || post[0].value != "List-Unsubscribe=One-Click" {
            problems.append(PreflightProblem(
                "list_unsubscribe_post_missing", "the message has no List-Unsubscribe-Post: List-Unsubscribe=One-Click header"))
        }
        if !shown.links(to: path) {
            problems.append(PreflightProblem(
                "unsubscribe_link_missing", "no part of the message holds the recipient's unsubscribe link"))
        }
        return problems
    }

    private func identityProblems(_ identity: SenderIdentity, shown: SenderIdentityCheck) -> [PreflightProblem] {
        var problems: [PreflightProblem] = []
        if let legalName = identity.legalName, !shown.shows(legalName) {
            problems.append(PreflightProblem("legal_name_missing", "no part of the message shows the sender's legal name"))
        }
        if let postalAddress = identity.postalAddress, !shown.shows(postalAddress) {
            problems.append(PreflightProblem(
                "postal_address_missing", "no part of the message shows the sender's postal address"))
        }
        if let contact = identity.contact, !shown.shows(contact.text) {
            problems.append(PreflightProblem("contact_missing", "no part of the message shows the sender's contact"))
        }
        return problems
    }

    /// "the body part 1 (text/plain) contains 13,011 addresses other than the recipient and
    /// the list's own; 13,011 of them are subscribers of this list".
    static func sentence(_ place: PreflightPlace) -> String {
        let found = ForeignAddressTally.sentence(
            count: place.addresses, written: grouped(place.addresses), phrase: place.place)
        let subscribers = switch (place.addresses, place.subscribers) {
        case (_, 0): "none of them is a subscriber of this list"
        case (1, _): "it is a subscriber of this list"
        case (_, 1): "1 of them is a subscriber of this list"
        default: "\(grouped(place.subscribers)) of them are subscribers of this list"
        }
        return "\(found); \(subscribers)"
    }

    private static func crlf(_ raw: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(raw.count + raw.count / 40)
        for byte in raw {
            if byte == 0x0A { output.append(0x0D) }
            output.append(byte)
        }
        return output
    }

    /// 13011 as "13,011".
    static func grouped(_ number: Int) -> String {
        let digits = Array(String(number))
        var text = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { text.append(",") }
            text.append(digit)
        }
        return text
    }
}
