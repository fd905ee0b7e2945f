// What an auto-reply says, in terms listgate controls: the list, the one recipient,
// and links listgate made. There is no field for anything typed into a form, so no
// submitter's free text can ever be mailed (README, invariant 7, the Navigate incident).
import ListgateCore

public struct AutoReply: Sendable {
    public let kind: AutoReplyKind
    public let list: MailingList
    public let recipient: Recipient
    public let links: Links

    public typealias Links = AutoReplyLinks

    public init(kind: AutoReplyKind, list: MailingList, recipient: Recipient, links: Links) {
        self.kind = kind
        self.list = list
        self.recipient = recipient
        self.links = links
    }
}

public enum ComposeError: Error, Equatable, Sendable, CustomStringConvertible {
    case missingTemplate(String)
    case missingLink(kind: AutoReplyKind, link: String)
    case message(MessageError)

    public var description: String {
        switch self {
        case .missingTemplate(let name): "mail template \(name) is missing from Forms/mail"
        case .missingLink(let kind, let link): "a \(kind.rawValue) mail needs a \(link) link"
        case .message(let error): error.description
        }
    }
}
