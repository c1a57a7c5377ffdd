/// The name of an object in an ``ObjectStorage``: one to 1024 bytes of printable ASCII, `/`
/// between non-empty components, no `.` or `..` component, so a name is a safe relative file
/// path and a valid S3 key at once.
public struct ObjectName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// - Throws: ``ObjectStorageError`` with kind `.invalidName` when `rawValue` breaks a rule.
    public init(_ rawValue: String) throws {
        guard Self.isValid(rawValue) else {
            throw ObjectStorageError(.invalidName, "invalid object name '\(rawValue.prefix(80))'")
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    public static func < (lhs: ObjectName, rhs: ObjectName) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    /// Printable ASCII without spaces, 1 to 1024 bytes, and no empty, `.` or `..` component:
    /// checked in one pass, since nodes name an object for every chunk they store.
    static func isValid(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...1024).contains(bytes.count) else { return false }
        var componentLength = 0
        var componentIsDots = true
        for byte in bytes {
            guard (0x21...0x7E).contains(byte) else { return false }
            if byte == UInt8(ascii: "/") {
                guard componentLength > 0, !(componentIsDots && componentLength <= 2) else { return false }
                (componentLength, componentIsDots) = (0, true)
            } else {
                componentLength += 1
                componentIsDots = componentIsDots && byte == UInt8(ascii: ".")
            }
        }
        return componentLength > 0 && !(componentIsDots && componentLength <= 2)
    }
}

/// A COS request failed, and why.
public struct ObjectStorageError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The name breaks ``ObjectName``'s rules.
        case invalidName
        /// The storage refused the credentials or the signature.
        case accessDenied
        /// The bucket or directory does not exist.
        case missingContainer
        /// A network, disk or service failure; retrying may help.
        case unavailable
        /// The storage answered something this client does not understand.
        case badResponse
    }

    public var kind: Kind
    /// One line for a user: what failed and, when the storage said why, its own words.
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
