import NIOCore
import RESP

extension ClientSession {
    /// Whether a request waiting for its last argument, of `length` bytes, is a plain SET whose
    /// value is better stored as it arrives than gathered first.
    func storesAsItArrives(_ leading: [ByteBuffer], lastLength length: Int) -> Bool {
        leading.count == 2 && !needsAuthentication && leading[0].isCommandName("set") && store.storesAsItArrives(length: length)
    }

    /// Runs `SET key <value>` (`key` owning its bytes) while the value's `length` bytes arrive:
    /// each stripe is stored while the next one is read, so the proxy holds about two stripes of
    /// the value. A write that fails still reads the value to its end, so the connection stays in
    /// step, and then replies with the error; nothing of it becomes visible.
    ///
    /// - Throws: When the client leaves partway, or the value is not followed by CRLF; the
    ///   connection must close then.
    mutating func setArriving(
        key: ByteBuffer,
        length: Int,
        from input: inout ClientInput,
        allocator: ByteBufferAllocator,
        replies: inout ReplyBuffer
    ) async throws {
        let store = self.store
        let write: ObjectStore.ArrivingWrite
        do {
            write = try await store.beginSet(key, length: length)
        } catch {
            try await input.skip(length)
            try await input.expectCRLF()
            replies.writeError(Self.errorMessage(error))
            return
        }
        var failure: (any Error)?
        do {
            try await withThrowingTaskGroup(of: (any Error)?.self) { group in
                for (stripe, stripeLength) in write.stripeLengths.enumerated() {
                    let bytes = try await input.take(stripeLength, allocator: allocator)
                    if case let error?? = try await group.next() { failure = failure ?? error }
                    guard failure == nil else { continue }
                    group.addTask {
                        do {
                            try await store.store(stripe, of: write, bytes: bytes)
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                for try await case let error? in group { failure = failure ?? error }
            }
            try await input.expectCRLF()
        } catch {
            await store.abandon(write)
            throw error
        }
        if let failure {
            await store.abandon(write)
            replies.writeError(Self.errorMessage(failure))
            return
        }
        do {
            try await store.commit(write)
            replies.writeSimpleString("OK")
        } catch {
            replies.writeError(Self.errorMessage(error))
        }
    }
}
