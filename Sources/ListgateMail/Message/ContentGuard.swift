// The last check before a message leaves: it re-reads the rendered octets the way a mail
// client would (MessageReading) and refuses anything that could show one person another
// person's address (a pasted address file, a second To, a Cc). It trusts nothing the
// renderer meant to do, only what the bytes say, and it fails closed: whatever it cannot
// parse or decode fails.
//
// Failure reasons go to logs and the CLI, so they name the kind of problem, where, and
// how many, and never the foreign addresses themselves. The preflight asks the same
// guard for its findings, place by place, instead of the outbox's first reason.

import ListgateCore

public enum GuardVerdict: Equatable, Sendable {
    case pass
    case fail(reason: String)
}

public struct ContentGuard: Sendable {
    /// nil when the message's To was unusable: then every address is foreign.
    private let recipient: EmailAddress?
    /// identityKeys of the recipient and of every allowed address.
    private let permittedKeys: Set<String>
    /// The recipient and the allowed addresses as UTF-8, spelled exactly as they were
    /// parsed (`entered`). Parsing depends on nothing but the text, so a token spelled
    /// octet for octet like one of these parses to that very address again: it is
    /// permitted without the (comparatively slow) parse. Any other spelling is parsed.
    private let permittedSpellings: [[UInt8]]

    /// recipient: the one person; allowed: the list's From, Reply-To and --allow-address entries.
    public init(recipient: EmailAddress, allowed: [EmailAddress]) {
        self.init(optionalRecipient: recipient, allowed: allowed)
    }

    /// For the preflight, where the To may name nobody usable.
    init(optionalRecipient recipient: EmailAddress?, allowed: [EmailAddress]) {
        self.recipient = recipient
        let permitted = (recipient.map { [$0] } ?? []) + allowed
        permittedKeys = Set(permitted.map(\.identityKey))
        permittedSpellings = permitted.map { Array($0.entered.utf8) }
    }

    public func check(_ raw: [UInt8]) -> GuardVerdict {
        do {
            try inspect(raw)
            return .pass
        } catch {
            return .fail(reason: error.reason)
        }
    }

    private func inspect(_ raw: [UInt8]) throws(GuardFailure) {
        // The whole structure is decoded before any verdict on content, so every
        // message, however wrong its To, goes through the same parser.
        let reading = try MessageReading.read(raw)
        try checkAddressFields(reading.fields)
        // The outbox speaks of "the body" as one place, wherever in it an address is.
        let tally = try foreignAddresses(in: reading, placing: { _ in .body })
        if let reason = tally.reason { throw GuardFailure(reason) }
    }

    /// What the preflight reports: the fields that name other recipients, and every
    /// foreign address, place by place (each body part on its own).
    /// Throws when a header field's encoded-word does not decode.
    func findings(in reading: MessageReading) throws(GuardFailure) -> GuardFindings {
        let copyFields = reading.fields.filter { Self.isCopyField($0.lowercasedName) }.map(\.displayName)
        return GuardFindings(copyFields: copyFields, tally: try foreignAddresses(in: reading, placing: { $0.guardPlace }))
    }

    private func foreignAddresses(
        in reading: MessageReading, placing: (BodyPlace) -> GuardPlace
    ) throws(GuardFailure) -> ForeignAddressTally {
        var tally = ForeignAddressTally()
        var keys = TokenKeys()
        let decoders = CharsetDecoders()
        for field in reading.fields where !AddressScanner.isMessageIDField(field.lowercasedName) {
            let value = try field.decodedValue(decoders: decoders)
            collectForeign(in: value, at: .header(field.displayName), into: &tally, keys: &keys)
        }
        for text in reading.texts {
            collectForeign(in: text.text, at: placing(text.place), into: &tally, keys: &keys)
        }
        return tally
    }

    private func collectForeign(
        in text: String, at place: GuardPlace, into tally: inout ForeignAddressTally, keys: inout TokenKeys
    ) {
        AddressScanner.forEachToken(in: text) { token in
            if !isPermitted(token, keys: &keys) { tally.add(token, at: place, keys: &keys) }
        }
    }

    // MARK: Address fields

    /// Fields that name a recipient other than To's: any of them, whoever it names, could
    /// make a server deliver or a client show the mail to someone else.
    static func isCopyField(_ lowercasedName: String) -> Bool {
        ["cc", "bcc", "apparently-to"].contains(lowercasedName) || lowercasedName.hasPrefix("resent-")
    }

    private func checkAddressFields(_ fields: [HeaderField]) throws(GuardFailure) {
        if let extra = fields.first(where: { Self.isCopyField($0.lowercasedName) }) {
            throw GuardFailure("the message has a \(extra.displayName) header; only To may name a recipient")
        }
        let fromCount = fields.count { $0.lowercasedName == "from" }
        guard fromCount == 1 else {
            throw GuardFailure("the message has \(fromCount) From headers; exactly one is required")
        }
        let toFields = fields.filter { $0.lowercasedName == "to" }
        guard toFields.count == 1, let to = toFields.first else {
            throw GuardFailure("the message has \(toFields.count) To headers; exactly one is required")
        }
        try checkTo(to)
    }

    /// The To field must be one mailbox, and that mailbox the recipient.
    private func checkTo(_ field: HeaderField) throws(GuardFailure) {
        guard let mailbox = try Self.singleMailbox(in: field) else {
            throw GuardFailure("the To header is not a single address")
        }
        guard mailbox.address == recipient else {
            throw GuardFailure("the To header's address is not the recipient")
        }
    }

    /// The one mailbox a To field names, nil when it is not a single address; throws when
    /// it holds more than one.
    static func singleMailbox(in field: HeaderField) throws(GuardFailure) -> Mailbox? {
        let tokens = AddressScanner.tokens(in: try field.decodedValue())
        guard tokens.count <= 1 else {
            throw GuardFailure("the To header contains \(tokens.count) addresses; exactly one is allowed")
        }
        // Mailbox refuses lists, groups and trailing text, so "one token" cannot hide a
        // second, unscannable recipient.
        guard let mailbox = try? Mailbox(field.value), tokens.count == 1 else { return nil }
        return mailbox
    }

    // MARK: Address scanning

    private func isPermitted(_ token: AddressToken, keys: inout TokenKeys) -> Bool {
        // An all-ASCII reading's key is its lower-cased text (AddressToken.key(of:)), so
        // it needs no parse: a pasted address file is thousands of such tokens.
        if token.readings.contains(where: { AddressToken.isASCII($0) && permittedKeys.contains($0.lowercased()) }) {
            return true
        }
        let wideReadings = token.readings.filter { !AddressToken.isASCII($0) }
        // Any permitted reading will do, so the cheap spelling check goes over all of
        // them before any is parsed.
        let hasPermittedSpelling = wideReadings.contains { reading in
            permittedSpellings.contains { $0.elementsEqual(reading.utf8) }
        }
        if hasPermittedSpelling { return true }
        return wideReadings.contains { reading in
            guard let key = keys.identityKey(ofWide: reading) else { return false }
            return permittedKeys.contains(key)
        }
    }
}

// MARK: - Findings and tally

/// What the guard found in a message that has been read, for the preflight.
struct GuardFindings {
    /// Display names of Cc, Bcc, Resent-* and Apparently-To fields, in order.
    let copyFields: [String]
    let tally: ForeignAddressTally
}

/// Where a foreign address was found.
enum GuardPlace: Hashable {
    case header(String)
    /// The whole body, as the outbox names it.
    case body
    /// One body part (a leaf), numbered from 1 in the order of the message.
    case part(index: Int, mediaType: String)
    /// Preambles, epilogues and the headers of multipart entities and attached messages.
    case structure

    var phrase: String {
        switch self {
        case .header(let name): "the \(name) header"
        case .body: "the body"
        case .part(let index, let mediaType): "the body part \(index) (\(mediaType))"
        case .structure: "the MIME structure"
        }
    }
}

extension BodyPlace {
    var guardPlace: GuardPlace {
        switch self {
        case .part(let index, let mediaType): .part(index: index, mediaType: mediaType)
        case .structure: .structure
        }
    }
}

/// Counts foreign addresses per place, so the reason says where without saying what.
///
/// Bounded: the first `maximumKept` distinct foreign addresses (per place) of a message
/// are kept with their keys, and counted exactly. Past that a token whose key is not kept
/// is counted once per occurrence, without being parsed or kept: the count is then an
/// upper bound, and such tokens are not looked up among the subscribers (`isTruncated`).
/// A message with that many foreign addresses fails whatever the exact count.
struct ForeignAddressTally {
    static let maximumKept = 100_000

    private(set) var places: [GuardPlace] = []
    /// Per place, each distinct foreign address (by key) with the keys of all its readings.
    private var found: [GuardPlace: [String: [String]]] = [:]
    private var kept = 0
    /// Per place, tokens past the bound.
    private var beyond: [GuardPlace: Int] = [:]

    /// Some tokens were counted past the bound, not kept.
    var isTruncated: Bool { !beyond.isEmpty }
    var countBeyondBound: Int { beyond.values.reduce(0, +) }

    mutating func add(_ token: AddressToken, at place: GuardPlace, keys: inout TokenKeys) {
        if found[place] == nil, beyond[place] == nil { places.append(place) }
        if kept < Self.maximumKept {
            let key = keys.key(of: token.text)
            guard found[place]?[key] == nil else { return }
            found[place, default: [:]][key] = keys.candidateKeys(of: token)
            kept += 1
        } else {
            if let key = keys.knownKey(of: token.text), found[place]?[key] != nil { return }
            beyond[place, default: 0] += 1
        }
    }

    /// The distinct foreign addresses at `place`: key and candidate keys.
    func addresses(at place: GuardPlace) -> [String: [String]] { found[place] ?? [:] }

    /// Distinct foreign addresses over all places.
    var allAddresses: [String: [String]] {
        var all: [String: [String]] = [:]
        for place in places { all.merge(addresses(at: place)) { first, _ in first } }
        return all
    }

    func count(at place: GuardPlace) -> Int { (found[place]?.count ?? 0) + (beyond[place] ?? 0) }

    static func sentence(count: Int, at place: GuardPlace) -> String {
        sentence(count: count, written: String(count), phrase: place.phrase)
    }

    /// `written`: the count as the reader gets it (the preflight groups digits).
    static func sentence(count: Int, written: String, phrase: String) -> String {
        let noun = count == 1 ? "address" : "addresses"
        return "\(phrase) contains \(written) \(noun) other than the recipient and the list's own"
    }

    var reason: String? {
        guard !places.isEmpty else { return nil }
        return places.map { Self.sentence(count: count(at: $0), at: $0) }.joined(separator: "; ")
    }
}
