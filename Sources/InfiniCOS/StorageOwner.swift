import NIOCore

/// The proxy a COS location belongs to, recorded in the location itself (``objectName``).
///
/// A proxy names its chunks by versions only it counts, and on a restart deletes the chunks of
/// versions its metadata does not hold. A second proxy on the same location would overwrite the
/// first one's chunks and delete them as orphans, so a proxy claims the location before it
/// writes anything (``claim(_:)``) and refuses one another proxy has claimed. The claim has no
/// expiry: the chunks stay the owner's for as long as its metadata does.
public struct StorageOwner: Sendable, Equatable {
    /// The COS object holding the record.
    public static let objectName = "proxy-owner"

    /// What makes two processes the same proxy: a random identity kept in its data directory,
    /// or, for a proxy whose metadata is in the COS, one shared by any proxy that takes that
    /// metadata over.
    public var identity: String
    /// Where the proxy claiming the location ran, for the message another proxy gets.
    public var host: String
    public var processID: Int32
    /// When it claimed the location, as ISO 8601 text.
    public var since: String

    public init(identity: String, host: String, processID: Int32, since: String) {
        self.identity = identity
        self.host = host
        self.processID = processID
        self.since = since
    }

    /// The identity of every proxy whose metadata is in the COS: a proxy started anywhere on
    /// that metadata takes the proxy's place.
    public static let metadataInTheCOS = "metadata-in-the-cos"

    /// Records this proxy as the owner of `storage`, unless another proxy is.
    ///
    /// - Throws: ``StorageOwnedByAnother`` when the record names another identity;
    ///   ``ObjectStorageError`` when the record cannot be read or written.
    public func claim(_ storage: any ObjectStorage) async throws {
        let name = try ObjectName(Self.objectName)
        // A record deleted between the create and the read is created again.
        for _ in 0..<3 {
            if try await storage.create(name, bytes: encoded) { return }
            guard let bytes = try await storage.get(name) else { continue }
            guard let owner = StorageOwner(decoding: bytes) else {
                throw ObjectStorageError(.badResponse, "the COS object \(Self.objectName) is not a proxy's record; remove it if nothing else uses it")
            }
            guard owner.identity == identity else { throw StorageOwnedByAnother(owner: owner) }
            try await storage.put(name, bytes: encoded)
            return
        }
        throw ObjectStorageError(.unavailable, "the COS object \(Self.objectName) kept disappearing while it was claimed")
    }

    /// `identity`, `host`, `pid` and `since` lines of `key: value`.
    var encoded: ByteBuffer {
        ByteBuffer(string: "identity: \(identity)\nhost: \(host)\npid: \(processID)\nsince: \(since)\n")
    }

    init?(decoding bytes: ByteBuffer) {
        var fields: [Substring: Substring] = [:]
        for line in String(buffer: bytes).split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            fields[line[..<colon]] = line[line.index(after: colon)...].drop { $0 == " " }
        }
        guard let identity = fields["identity"], !identity.isEmpty, let host = fields["host"],
            let processID = fields["pid"].flatMap({ Int32($0) }), let since = fields["since"]
        else { return nil }
        self.init(identity: String(identity), host: String(host), processID: processID, since: String(since))
    }
}

/// A COS location another proxy has claimed (see ``StorageOwner``).
public struct StorageOwnedByAnother: Error, CustomStringConvertible {
    public let owner: StorageOwner

    public var description: String {
        "the COS holds the data of another proxy (started on \(owner.host), pid \(owner.processID), at \(owner.since)): "
            + "sharing it would overwrite that proxy's chunks and delete them as orphans. Give each proxy a COS "
            + "location of its own (--cos), or, if the other proxy's data is gone for good, delete the COS object "
            + "'\(StorageOwner.objectName)'"
    }
}
