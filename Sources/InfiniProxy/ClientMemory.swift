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

    /// The memory that reading `reads` for a reply holds: the large values among them, each
    /// whole or, when longer than ``ObjectStore/streamedStripeCount`` stripes and so read stripe
    /// by stripe as the reply is written, as many stripes as are in memory at once.
    func heldBytes(reading reads: some Sequence<(length: Int, stripeLength: Int)>) -> Int {
        reads.reduce(0) { total, read in
            guard read.length >= Self.largeValueLength else { return total }
            return total + ObjectStore.streamedLength(of: read.length, stripeLength: read.stripeLength)
        }
    }
}
