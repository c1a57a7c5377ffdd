public import NIOCore

/// Durable storage for immutable named objects: the COS ("cloud object storage") behind the
/// memory nodes and the proxy. Two implementations: a directory on local disk (the embedded
/// default) and S3.
///
/// Names are `/`-separated paths of printable ASCII without `..` components (see
/// ``ObjectName``), so the same name works as a file path and as an S3 key. A `put` replaces the
/// whole object atomically: a reader sees the old bytes or the new, never a mix, and a crash
/// during a `put` leaves the old object (or none) in place.
public protocol ObjectStorage: Sendable {
    /// Stores `bytes` under `name`, replacing any object there; returns once it is durable.
    func put(_ name: ObjectName, bytes: ByteBuffer) async throws

    /// Stores `bytes` under `name` only if there is no object there, and returns whether it
    /// did: of two creates of one name, exactly one succeeds. Durable on return, like ``put(_:bytes:)``.
    func create(_ name: ObjectName, bytes: ByteBuffer) async throws -> Bool

    /// The object's bytes in `range` (clamped to its length), all of it when `range` is nil, or
    /// nil when there is no such object.
    func get(_ name: ObjectName, range: Range<Int>?) async throws -> ByteBuffer?

    /// The object's length, or nil when there is no such object.
    func size(of name: ObjectName) async throws -> Int?

    /// Removes the object; removing one that does not exist is not an error.
    func delete(_ name: ObjectName) async throws

    /// Removes every object named, in as few requests as the storage allows; missing ones are
    /// not an error. Some may be gone when it throws.
    func delete(_ names: [ObjectName]) async throws

    /// The names of all objects whose name starts with `prefix`, in ascending byte order.
    func list(prefix: String) async throws -> [ObjectName]
}

extension ObjectStorage {
    /// Deletes the objects one request each, a few at a time.
    public func delete(_ names: [ObjectName]) async throws {
        try await forEachConcurrently(names, limit: 16) { try await delete($0) }
    }

    /// The whole object, or nil when there is none.
    public func get(_ name: ObjectName) async throws -> ByteBuffer? {
        try await get(name, range: nil)
    }
}
