import NIOCore

/// Whole small values kept in the proxy by version, so a hot key is read without a node round
/// trip; bounded by bytes, least recently used out first.
///
/// A cached value can never be stale: versions are unique and immutable, and a reader first
/// pins the key's committed version, then asks the cache for that version only. A version that
/// is superseded or deleted is dropped at once so it does not hold memory until it ages out.
struct ReadCache {
    /// Bytes counted per value besides its own, for the dictionary slot and list links.
    static let overheadPerValue = 96

    private struct Item {
        var value: ByteBuffer
        var newer: UInt64?
        var older: UInt64?
    }

    /// The most bytes kept, overhead included; 0 turns the cache off.
    let capacity: Int
    /// Longer values are never cached.
    let maximumValueLength: Int
    private var items: [UInt64: Item] = [:]
    private var newest: UInt64?
    private var oldest: UInt64?
    /// The bytes kept now, overhead included.
    private(set) var bytes = 0
    /// Reads answered from the cache.
    private(set) var hits = 0

    init(capacity: Int, maximumValueLength: Int) {
        self.capacity = max(0, capacity)
        self.maximumValueLength = maximumValueLength
    }

    var count: Int { items.count }

    /// The value of `version` if it is cached, which makes it the most recently used.
    mutating func value(of version: UInt64) -> ByteBuffer? {
        guard let item = items[version] else { return nil }
        hits += 1
        // A hot key's version is usually the newest already: no list links to change.
        if newest != version {
            unlink(version, item)
            linkAsNewest(version)
        }
        return item.value
    }

    /// Counts a read answered with a value this cache gave a moment before.
    mutating func countHit() {
        hits += 1
    }

    /// Keeps `value` as `version`'s, evicting the least recently used values to make room; a
    /// value too long for the cache is ignored.
    mutating func insert(_ value: ByteBuffer, version: UInt64) {
        let cost = value.readableBytes + Self.overheadPerValue
        guard value.readableBytes <= maximumValueLength, cost <= capacity, items[version] == nil else { return }
        while bytes + cost > capacity, let oldest { remove(oldest) }
        items[version] = Item(value: value, newer: nil, older: nil)
        linkAsNewest(version)
        bytes += cost
    }

    /// Drops `version`'s value if it is cached.
    mutating func remove(_ version: UInt64) {
        guard let item = items[version] else { return }
        unlink(version, item)
        items[version] = nil
        bytes -= item.value.readableBytes + Self.overheadPerValue
    }

    mutating func removeAll() {
        items.removeAll()
        newest = nil
        oldest = nil
        bytes = 0
    }

    private mutating func unlink(_ version: UInt64, _ item: Item) {
        if let newer = item.newer { items[newer]?.older = item.older } else { newest = item.older }
        if let older = item.older { items[older]?.newer = item.newer } else { oldest = item.newer }
        items[version]?.newer = nil
        items[version]?.older = nil
    }

    private mutating func linkAsNewest(_ version: UInt64) {
        items[version]?.older = newest
        if let newest { items[newest]?.newer = version } else { oldest = version }
        newest = version
    }
}
