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

    /// The bytes of the large values among `lengths`: what reading them holds.
    func largeBytes(in lengths: some Sequence<Int>) -> Int {
        lengths.reduce(0) { $1 >= Self.largeValueLength ? $0 + $1 : $0 }
    }
}
