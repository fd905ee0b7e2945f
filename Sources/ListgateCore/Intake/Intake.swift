// The front door's rules, shared by the HTTP routes and anything else that takes
// subscribe requests: validate, sign links, render the one confirmation mail, and let
// the store decide atomically whether it is sent.
import Foundation

public struct Intake: Sendable {
    let store: any IntakeStore
    let renderer: any AutoReplyRendering
    let links: LinkBuilder
    let policy: IntakePolicy
    let lists: ListDirectory
    /// Per language, what a person is shown on the way to consent; computed once, since
    /// templates do not change while listgate runs.
    let consent: [ListLocale: ConsentWording]

    /// `pageWording`: the hosted pages' part of the consent wording, per language (the
    /// subscribe and confirm pages as written, with their layouts); the confirmation
    /// mail's part comes from `renderer`.
    public init(
        store: any IntakeStore, renderer: any AutoReplyRendering, links: LinkBuilder, policy: IntakePolicy = IntakePolicy(),
        pageWording: [ListLocale: [ConsentWording.Part]] = [:]
    ) {
        self.store = store
        self.lists = ListDirectory(store: store)
        self.renderer = renderer
        self.links = links
        self.policy = policy
        consent = Dictionary(uniqueKeysWithValues: ListLocale.allCases.map { locale in
            (locale, ConsentWording(
                locale: locale, parts: pageWording[locale, default: []] + renderer.wording(of: .confirmation, locale: locale)))
        })
    }

    /// The wording a subscribe request to a list of this language records consent to.
    public func consentWording(_ locale: ListLocale) -> ConsentWording {
        consent[locale] ?? ConsentWording(locale: locale, parts: renderer.wording(of: .confirmation, locale: locale))
    }

    /// The list a form posts to, or `listNotFound` (fail closed: never a default list).
    public func list(_ slugText: String) async throws -> MailingList {
        guard let slug = try? ListSlug(slugText), let list = try await lists.list(slug) else {
            throw DomainError.listNotFound(slugText)
        }
        return list
    }

    /// The front door: validates a subscribe post and records it, nothing more; the
    /// IntakeDesk decides it later (see FormRequest.swift). Throws only for what the
    /// person typed (`DomainError`), so the answer cannot depend on the address's state.
    public func receiveSubscription(
        list: MailingList, email: String, name: String?, origin: RequestOrigin, now: Date = Date()
    ) async throws {
        let address = try Self.validAddress(email)
        let name = try Self.validName(name)
        try await store.recordFormRequest(
            kind: .subscribe, list: list, address: address, name: name, origin: origin, at: now)
    }

    /// Decides a subscribe request: whether it causes a confirmation mail, and if so
    /// queues it, all in one transaction. `formRequestID` names the recorded post this
    /// decides, consumed in the same transaction.
    public func requestSubscription(
        list: MailingList, email: String, name: String?, origin: RequestOrigin, now: Date = Date(),
        formRequestID: Int64? = nil
    ) async throws -> SubscribeOutcome {
        let address = try Self.validAddress(email)
        let name = try Self.validName(name)
        let publicID = TokenSigner.newID()
        let expires = now.addingTimeInterval(policy.confirmationLifetime)
        let mailLinks = AutoReplyLinks(
            confirm: links.confirm(submission: publicID, expires: expires),
            block: links.block(submission: publicID, expires: now.addingTimeInterval(policy.blockLifetime)),
            expiresHours: Int(policy.confirmationLifetime / 3600))
        let mail: NewOutboxMessage
        do {
            mail = try renderer.render(.confirmation, list: list, to: address, links: mailLinks)
        } catch {
            throw DomainError.undeliverableAddress
        }
        let wording = consentWording(list.locale)
        let submission = NewSubmission(
            publicID: publicID, list: list, address: address, name: name, origin: origin,
            consentVersion: wording.version, requestedAt: now, expiresAt: expires, formRequestID: formRequestID,
            wording: wording)
        return try await store.recordSubscribeRequest(submission, mail: mail, policy: policy)
    }

    public func confirm(token: String, origin: RequestOrigin, now: Date = Date()) async throws -> ConfirmOutcome {
        switch links.check(token, purpose: .confirm, now: now) {
        case .invalid:
            return .invalid
        case .expired(let id):
            switch try await store.tokenPage(publicID: id, expired: true) {
            case .expired(let slug, let name, let locale), .ready(let slug, let name, let locale):
                return .expired(listSlug: slug, listName: name, locale: locale)
            case .alreadyConfirmed(let slug, let name, let locale):
                return .alreadyConfirmed(listSlug: slug, listName: name, locale: locale)
            case .used(let slug, let name, let locale): return .used(listSlug: slug, listName: name, locale: locale)
            case .listArchived(let slug, let name, let locale):
                return .listArchived(listSlug: slug, listName: name, locale: locale)
            case .invalid: return .invalid
            }
        case .valid(let id):
            return try await store.confirmSubmission(publicID: id, at: now, origin: origin)
        }
    }

    public func block(token: String, origin: RequestOrigin, now: Date = Date()) async throws -> BlockOutcome {
        guard case .valid(let id) = links.check(token, purpose: .block, now: now) else { return .invalid }
        return try await store.blockSubmission(publicID: id, at: now, origin: origin)
    }

    /// What the GET page for a confirm or block link shows; changes nothing.
    public func page(for token: String, purpose: TokenPurpose, now: Date = Date()) async throws -> TokenPage {
        switch links.check(token, purpose: purpose, now: now) {
        case .invalid: return .invalid
        case .expired(let id):
            let page = try await store.tokenPage(publicID: id, expired: true)
            // An expired "not me" link is expired, closed list or not.
            if purpose == .block, case .listArchived(let slug, let name, let locale) = page {
                return .expired(listSlug: slug, listName: name, locale: locale)
            }
            return page
        case .valid(let id):
            let page = try await store.tokenPage(publicID: id, expired: false)
            // A block link stays usable after the confirmation link expired or was used.
            if purpose == .block, case .expired(let slug, let name, let locale) = page {
                return .ready(listSlug: slug, listName: name, locale: locale)
            }
            if purpose == .block, case .used(let slug, let name, let locale) = page {
                return .ready(listSlug: slug, listName: name, locale: locale)
            }
            if purpose == .block, case .alreadyConfirmed(let slug, let name, let locale) = page {
                return .ready(listSlug: slug, listName: name, locale: locale)
            }
            // Saying "never mail me" is refusing, and refusing works on a closed list too.
            if purpose == .block, case .listArchived(let slug, let name, let locale) = page {
                return .ready(listSlug: slug, listName: name, locale: locale)
            }
            return page
        }
    }

    public func subscribeURL(_ slug: ListSlug) -> String { links.subscribe(slug) }

    /// Where listgate's own pages are served (links in mail and pages start with it).
    public var baseURL: String { links.baseURL }

    /// The list a URL or a recorded request names, or nil when no list has that slug. Any
    /// other error (the database is unavailable) is thrown, to be answered as a server
    /// error rather than shown as "no such list".
    public func listIfExists(_ slug: String) async throws -> MailingList? {
        guard let slug = try? ListSlug(slug) else { return nil }
        return try await lists.list(slug)
    }

    static func validAddress(_ text: String) throws(DomainError) -> EmailAddress {
        do { return try EmailAddress(text) } catch { throw .invalidAddress(field: "email", reason: error) }
    }

    /// Names are optional, single-line and at most 200 characters; never mailed.
    static func validName(_ text: String?) throws(DomainError) -> String? {
        guard let trimmed = text?.trimmingCharacters(in: .whitespaces), !trimmed.isEmpty else { return nil }
        if let problem = OneLineName.problem(trimmed) { throw .invalidName(problem) }
        return trimmed
    }
}
