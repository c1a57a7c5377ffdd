public import InfiniCOS
public import NIOCore
import Synchronization

/// A COS that counts requests and written bytes and adds a fixed delay to each request.
public final class CountingStorage: ObjectStorage {
    public struct Counts: Sendable {
        public var requests = 0
        public var reads = 0
        public var bytes = 0

        public func since(_ earlier: Counts) -> Counts {
            Counts(requests: requests - earlier.requests, reads: reads - earlier.reads, bytes: bytes - earlier.bytes)
        }
    }

    private let base: any ObjectStorage
    private let latency: Duration
    private let state = Mutex(Counts())

    public init(_ base: any ObjectStorage, latency: Duration) {
        self.base = base
        self.latency = latency
    }

    public var counts: Counts { state.withLock { $0 } }

    private func request(reading: Bool = false, bytes: Int = 0) async throws {
        state.withLock { counts in
            counts.requests += 1
            counts.reads += reading ? 1 : 0
            counts.bytes += bytes
        }
        try await Task.sleep(for: latency)
    }

    public func put(_ name: ObjectName, bytes: ByteBuffer) async throws {
        try await request(bytes: bytes.readableBytes)
        try await base.put(name, bytes: bytes)
    }

    public func create(_ name: ObjectName, bytes: ByteBuffer) async throws -> Bool {
        try await request(bytes: bytes.readableBytes)
        return try await base.create(name, bytes: bytes)
    }

    public func get(_ name: ObjectName, range: Range<Int>?) async throws -> ByteBuffer? {
        try await request(reading: true)
        return try await base.get(name, range: range)
    }

    public func size(of name: ObjectName) async throws -> Int? {
        try await request(reading: true)
        return try await base.size(of: name)
    }

    public func delete(_ name: ObjectName) async throws {
        try await request()
        try await base.delete(name)
    }

    public func list(prefix: String) async throws -> [ObjectName] {
        try await request(reading: true)
        return try await base.list(prefix: prefix)
    }
}
