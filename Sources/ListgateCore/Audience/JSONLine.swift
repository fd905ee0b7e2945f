// One JSON object per line (NDJSON), written straight into a byte buffer. The streams
// that use it (a snapshot's recipients, the unsubscribes feed) write a million rows, so
// a line is built from bytes rather than through JSONSerialization and a dictionary.
// Strings are written by the one escaper (Support/JSONString.swift), script-safe: DEL and
// U+2028/U+2029 escaped too, so a line is also safe to embed in JavaScript.

public struct JSONLine {
    public private(set) var bytes: [UInt8] = []
    private var fields = 0

    public init(reservingCapacity capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    /// Adds `"key":"value"` (or `"key":null`) to the current object.
    public mutating func field(_ key: StaticString, _ value: String?) {
        startField(key)
        if let value {
            JSONString.append(value, scriptSafe: true, to: &bytes)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }

    public mutating func field(_ key: StaticString, _ value: Int) {
        startField(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Closes the current object with `}\n` and starts the next one.
    public mutating func endObject() {
        if fields == 0 { bytes.append(UInt8(ascii: "{")) }
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
        fields = 0
    }

    /// Hands over the bytes written so far and starts empty, keeping the capacity.
    public mutating func take() -> [UInt8] {
        defer { bytes.removeAll(keepingCapacity: true) }
        return bytes
    }

    private mutating func startField(_ key: StaticString) {
        bytes.append(fields == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
        fields += 1
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Adds `"key":"…"` (or `"key":null`) from UTF-8 bytes, e.g. read straight from the database.
    public mutating func field(_ key: StaticString, utf8 value: UnsafeBufferPointer<UInt8>?) {
        startField(key)
        if let value {
            JSONString.append(value, scriptSafe: true, to: &bytes)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
    }
}
