import NIOCore
import RESP

extension ClientSession {
    /// How the large value of a plain SET is read while it arrives, rather than gathered in the
    /// query buffer with the request around it.
    enum ArrivingValue {
        /// Each stripe is stored while the next one is read: the value spans more stripes than
        /// a reply reads at once.
        case storedStripeByStripe
        /// Taken whole as the reads it arrives in, then stored from them.
        case takenInParts
    }

    /// How a request waiting for its last argument, of `length` bytes, reads that argument, if
    /// it is a plain SET of a large value.
    func arrivingValue(_ leading: [ByteBuffer], lastLength length: Int) -> ArrivingValue? {
        guard leading.count == 2, !needsAuthentication, length >= ClientMemory.largeValueLength, leading[0].isCommandName("set")
        else { return nil }
        return store.storesAsItArrives(length: length) ? .storedStripeByStripe : .takenInParts
    }

    /// The client memory a value of `length` bytes read as `arriving` holds.
    func memory(for arriving: ArrivingValue, length: Int) -> Int {
        switch arriving {
        case .storedStripeByStripe: store.arrivingValueMemory(length: length)
        case .takenInParts: length
        }
    }

    /// Runs `SET key <value>` (`key` owning its bytes) with the value's `length` bytes taken as
    /// the reads they arrive in, so they are coded from those reads, never copied together
    /// into the query buffer first.
    ///
    /// - Throws: When the client leaves partway, or the value is not followed by CRLF; the
    ///   connection must close then.
    func setTakenInParts(key: ByteBuffer, length: Int, from input: inout ClientInput, replies: inout ReplyBuffer) async throws {
        let value = try await input.takeParts(length)
        try await input.expectCRLF()
        do {
            try await store.set(key, value: value)
            replies.writeSimpleString("OK")
        } catch {
            replies.writeError(Self.errorMessage(error))
        }
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
