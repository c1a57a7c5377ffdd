import InfiniCOS
import NIOCore
import Testing

@Suite struct StorageOwnerTests {
    static func owner(_ identity: String, pid: Int32 = 100) -> StorageOwner {
        StorageOwner(identity: identity, host: "host-\(identity)", processID: pid, since: "2026-12-06T23:00:00Z")
    }

    @Test func theFirstProxyClaimsTheCOSAndOnlyItClaimsItAgain() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            try await Self.owner("a").claim(storage)
            // A restart of the same proxy (its data directory's identity), in a new process.
            try await Self.owner("a", pid: 200).claim(storage)
            let record = try #require(try await storage.get(ObjectName(StorageOwner.objectName)))
            #expect(String(buffer: record).contains("pid: 200"))

            let refusal = await #expect(throws: StorageOwnedByAnother.self) { try await Self.owner("b").claim(storage) }
            #expect(refusal?.owner == Self.owner("a", pid: 200))
            #expect(refusal?.description.contains("another proxy (started on host-a, pid 200, at 2026-12-06T23:00:00Z)") == true)
            #expect(refusal?.description.contains("delete the COS object 'proxy-owner'") == true)
            #expect(String(buffer: try #require(try await storage.get(ObjectName(StorageOwner.objectName)))).contains("identity: a\n"))

            // Once the record is deleted, the COS is free for another proxy.
            try await storage.delete(ObjectName(StorageOwner.objectName))
            try await Self.owner("b").claim(storage)
        }
    }

    @Test func ofProxiesClaimingAtOnceOneWins() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            let claimed = await withTaskGroup(of: String?.self) { group in
                for identity in ["a", "b", "c", "d"] {
                    group.addTask { (try? await Self.owner(identity).claim(storage)) == nil ? nil : identity }
                }
                return await group.reduce(into: [String]()) { claimed, identity in if let identity { claimed.append(identity) } }
            }
            #expect(claimed.count == 1, "claimed by \(claimed)")
        }
    }

    @Test func anObjectInThePlaceOfTheRecordIsNotTakenOver() async throws {
        try await withTemporaryDirectory { root in
            let storage = FileObjectStorage(root: root)
            try await storage.put(ObjectName(StorageOwner.objectName), bytes: ByteBuffer(string: "something else"))
            let error = await #expect(throws: ObjectStorageError.self) { try await Self.owner("a").claim(storage) }
            #expect(error?.description.contains("is not a proxy's record") == true)
            #expect(try await storage.get(ObjectName(StorageOwner.objectName)) == ByteBuffer(string: "something else"))
        }
    }
}
