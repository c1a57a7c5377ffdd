/// What a client's request draws on for its large values: the memory all clients share
/// (`--client-memory`), and whether the request may wait for its share. A client that holds some
/// already must not wait for more, since two clients each waiting for the other's bytes would
/// wait for good; it takes what it needs at once, past the bound if need be.
public struct ClientMemory: Sendable {
    /// Values this long and longer count against the shared memory; shorter ones are bounded by
    /// each client's own limits.
    public static let largeValueLength = 64 << 10

    let budget: ByteBudget
    let mayWait: Bool
    /// Whether a value longer than ``ObjectStore/streamedStripeCount`` stripes may be read
    /// stripe by stripe as its reply is written, holding only that many stripes of memory.
    /// A command that uses the value itself (APPEND) reads it whole.
    var streamsLongValues = true

    /// The memory that reading `reads` holds: the large values among them, each whole or, when
    /// streamed, as many stripes as are in memory at once.
    func heldBytes(reading reads: some Sequence<(length: Int, stripeLength: Int)>) -> Int {
        reads.reduce(0) { total, read in
            guard read.length >= Self.largeValueLength else { return total }
            return total + (streamsLongValues ? ObjectStore.streamedLength(of: read.length, stripeLength: read.stripeLength) : read.length)
        }
    }
}
