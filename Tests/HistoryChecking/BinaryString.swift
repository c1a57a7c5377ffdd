public import NIOCore

/// A binary-safe Redis string, used for the keys and values of a history.
///
/// Printed as a quoted string when it is short printable ASCII, otherwise as a prefix and its
/// length, so failure messages stay readable even with large or binary values.
public struct BinaryString: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// The readable bytes of `buffer`.
    public init(buffer: ByteBuffer) {
        self.bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
    }

    /// How many bytes are shown before a long value is cut short in ``description``.
    static let shownLength = 24

    public var description: String {
        let shown = self.bytes.prefix(Self.shownLength)
        let text: String
        if shown.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            text = String(decoding: shown, as: UTF8.self).debugDescription
        } else {
            text = "0x" + shown.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
        return self.bytes.count > Self.shownLength ? "\(text)… (\(self.bytes.count) bytes)" : text
    }
}
