import InfiniCoding
import InfiniMetadata

/// The stripes of a long value that are read only as its reply is written: one at a time, so a
/// reply holds about two stripes however long the value is. The version stays pinned until the
/// last reference to this goes, so the stripes can still be read after the key changed.
final class RemainingStripes: Sendable {
    private let store: ObjectStore
    private let entry: ObjectStore.Entry
    /// The bytes of the value still to read.
    let range: Range<Int>

    /// - Precondition: `entry` was pinned for this; it is unpinned when this goes.
    init(store: ObjectStore, entry: ObjectStore.Entry, range: Range<Int>) {
        self.store = store
        self.entry = entry
        self.range = range
    }

    /// The stripes to read, in order.
    var stripes: Range<Int> { entry.descriptor.stripes(overlapping: range) }

    /// The bytes of `stripe` within ``range``.
    func read(_ stripe: Int) async throws -> ValueBytes {
        try await store.decode(entry, range: range.clamped(to: entry.descriptor.byteRange(ofStripe: stripe)))
    }

    deinit {
        Task { [store, entry] in await store.unpin(entry) }
    }
}
