// libFuzzer target: the subscribe form's body decoding, exactly as the server runs it
// once the body is read (SubscribeForm.decode(body:contentType:), reached through a
// testable import; the type is internal to ListgateServer). The first input byte picks:
//   0: the rest as a URL-encoded body;  1: the rest as a JSON body;
//   2: the rest, if it is UTF-8, percent-encoded into `email` and `name`, which must
//      decode back to exactly that text (or be refused for U+FFFD or length).
// Never a crash; whatever is accepted holds no U+FFFD and no field over 4096 octets.
import FuzzDriver
@testable import ListgateServer

@main
enum Fuzz {
    static func main() { runFuzzer(fuzzForm) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForm(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let mode = bytes.first else { return 0 }
    let body = bytes.dropFirst()
    switch mode % 3 {
    case 0: check(SubscribeForm.decode(body: body, contentType: "application/x-www-form-urlencoded"), body)
    case 1: check(SubscribeForm.decode(body: body, contentType: "application/json"), body)
    default: roundTrip(body)
    }
    return 0
}

func check(_ result: Result<SubscribeForm, Problem>, _ body: Slice<UnsafeBufferPointer<UInt8>>) {
    guard case .success(let form) = result else { return }
    for field in [form.email, form.name, form.website].compactMap({ $0 }) {
        if field.unicodeScalars.contains("\u{FFFD}") || field.utf8.count > 4096 {
            fatalError("accepted a field with U+FFFD or over 4096 octets; body: \(Array(body))")
        }
    }
}

func roundTrip(_ body: Slice<UnsafeBufferPointer<UInt8>>) {
    guard let text = String(validating: body, as: UTF8.self) else { return }
    let encoded = percentEncoded(text)
    let form = Array("email=\(encoded)&name=\(encoded)".utf8)
    let result = SubscribeForm.decode(body: form, contentType: "application/x-www-form-urlencoded")
    let refusable = text.unicodeScalars.contains("\u{FFFD}") || text.utf8.count > 4096
    switch result {
    case .success(let decoded):
        guard !refusable, decoded.email == text, decoded.name == text, decoded.website == nil else {
            fatalError("""
                \(Array(text.utf8)) came back as email \(decoded.email.map { Array($0.utf8) } ?? []), \
                name \(decoded.name.map { Array($0.utf8) } ?? [])
                """)
        }
    case .failure(let problem):
        guard refusable else { fatalError("\(Array(text.utf8)) percent-encoded was refused: \(problem)") }
    }
}

/// Every octet but ASCII letters and digits as %XX: unambiguous whatever the decoder
/// thinks of "+", "&", "=" or "%".
func percentEncoded(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var output: [UInt8] = []
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            output.append(byte)
        default:
            output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
        }
    }
    return String(decoding: output, as: UTF8.self)
}
