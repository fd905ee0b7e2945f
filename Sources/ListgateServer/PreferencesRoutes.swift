// `GET/POST /preferences/{token}`: every list one address is on, and a way to leave any
// of them, without a login: the signed token is the key, and it names one person.
import Foundation
import Hummingbird
import ListgateCore
import Mustache

struct PreferencesRoutes: Sendable {
    let unsubscribes: Unsubscribes
    let store: any PreferencesStore
    let pages: Pages

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("preferences/:token") { request, context in try await show(request, context, done: nil) }
        router.post("preferences/:token") { request, context in try await leave(request, context) }
    }

    func show(_ request: Request, _ context: AppRequestContext, done: [String]?) async throws -> Response {
        guard let entries = try await unsubscribes.preferences(token: context.parameters.require("token"), store: store) else {
            throw Problem.invalidLink(message: "this link is not valid")
        }
        if request.wantsJSON {
            return JSONAnswer.body(
                ["lists": entries.map { ["list": $0.listSlug, "name": $0.listName, "status": $0.status] }, "left": done ?? []],
                code: .ok)
        }
        let locale = entries.first?.locale ?? request.preferredLocale
        var values: [String: Any] = [
            "action_url": pages.action(request),
            "lists": entries.map {
                ["list_name": $0.listName, "slug": $0.listSlug, "status_label": Self.label($0.status, locale),
                 "can_leave": ["active", "pending"].contains($0.status)] as [String: Any]
            },
        ]
        if entries.isEmpty { values["none"] = true }
        if let done {
            values["done"] = locale == .ja
                ? (done.isEmpty ? "変更はありませんでした。" : "\(done.count)件のリストの配信を停止しました。")
                : (done.isEmpty ? "Nothing changed." : "You left \(done.count) list\(done.count == 1 ? "" : "s").")
        }
        return Pages.response(ByteBuffer(string: pages.html("preferences", locale: locale, values)), status: .ok)
    }

    func leave(_ request: Request, _ context: AppRequestContext) async throws -> Response {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: FormLimits.bodyBytes),
              let body = String(validating: buffer.readableBytesView, as: UTF8.self)
        else { throw Problem.malformedBody }
        // `leave=slug&leave=slug`: repeated keys, which a plain form sends for checkboxes.
        let slugs = body.split(separator: "&").compactMap { pair -> String? in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "leave" else { return nil }
            return parts[1].removingPercentEncoding
        }
        let origin = RequestOrigin(route: "form:/preferences", clientIP: context.clientIP, userAgent: request.headers[.userAgent])
        guard let left = try await unsubscribes.leave(
            token: context.parameters.require("token"), listSlugs: Array(slugs.prefix(100)), store: store, origin: origin)
        else { return try await show(request, context, done: nil) }
        return try await show(request, context, done: left)
    }

    static func label(_ status: String, _ locale: ListLocale) -> String {
        switch (status, locale) {
        case ("active", .ja): "配信中"
        case ("pending", .ja): "確認待ち"
        case ("unsubscribed", .ja): "停止済み"
        case ("bounced", .ja): "配信エラーのため停止"
        case ("complained", .ja): "停止済み"
        case ("active", _): "subscribed"
        case ("pending", _): "awaiting confirmation"
        case ("bounced", _): "stopped (delivery errors)"
        default: "unsubscribed"
        }
    }
}
