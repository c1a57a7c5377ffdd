import InfiniCoding
import InfiniMetadata
import NIOCore

/// The proxy's metadata for every key, indexed three ways: by key; in insertion order, which
/// SCAN walks with "the next insertion id" as its cursor; and, for keys with a TTL, in an array
/// that the expiry sweep samples at random.
///
/// Insertion order is kept as an append-only log of (id, key). Replacing a key's value keeps its
/// id, so a key present for a whole SCAN stays at one position and is returned exactly once;
/// a removed key leaves a stale slot that is skipped and compacted away later. Compaction keeps
/// ids, so cursors stay valid across it.
struct Keyspace: Sendable {
    private struct Slot: Sendable {
        var entry: ObjectStore.Entry
        let insertionID: UInt64
    }

    private var slots: [ByteBuffer: Slot] = [:]
    private var order: [(id: UInt64, key: ByteBuffer)] = []
    private var staleSlots = 0
    private var lastInsertionID: UInt64 = 0
    private var volatileKeys: [ByteBuffer] = []
    private var volatilePositions: [ByteBuffer: Int] = [:]

    var count: Int { slots.count }

    /// The summed length of every value.
    private(set) var valueBytes = 0

    /// How many keys have a TTL.
    var volatileCount: Int { volatileKeys.count }

    /// Every key, in insertion order.
    var keys: [ByteBuffer] {
        order.compactMap { slot in slots[slot.key]?.insertionID == slot.id ? slot.key : nil }
    }

    subscript(key: ByteBuffer) -> ObjectStore.Entry? { slots[key]?.entry }

    /// Stores `entry` under `key`, keeping the key's place in insertion order if it exists.
    /// - Returns: The entry it replaced.
    @discardableResult
    mutating func insert(_ entry: ObjectStore.Entry, for key: ByteBuffer) -> ObjectStore.Entry? {
        let previous = slots[key]
        valueBytes += entry.descriptor.length - (previous?.entry.descriptor.length ?? 0)
        if let previous {
            slots[key] = Slot(entry: entry, insertionID: previous.insertionID)
        } else {
            lastInsertionID += 1
            slots[key] = Slot(entry: entry, insertionID: lastInsertionID)
            order.append((lastInsertionID, key))
        }
        trackExpiry(of: key, hasTTL: entry.expiresAt != nil)
        return previous?.entry
    }

    /// Changes the expiry deadline of an existing key; does nothing if the key is absent.
    mutating func setExpiry(_ deadline: Int64?, for key: ByteBuffer) {
        guard slots[key] != nil else { return }
        slots[key]?.entry.expiresAt = deadline
        trackExpiry(of: key, hasTTL: deadline != nil)
    }

    /// The version of every key.
    var versions: Set<UInt64> { Set(slots.values.lazy.map(\.entry.version)) }

    @discardableResult
    mutating func remove(_ key: ByteBuffer) -> ObjectStore.Entry? {
        guard let slot = slots.removeValue(forKey: key) else { return nil }
        valueBytes -= slot.entry.descriptor.length
        trackExpiry(of: key, hasTTL: false)
        staleSlots += 1
        if staleSlots > 64, staleSlots * 2 > order.count { compact() }
        return slot.entry
    }

    mutating func removeAll() -> [ObjectStore.Entry] {
        let entries = slots.values.map(\.entry)
        slots.removeAll()
        valueBytes = 0
        order.removeAll()
        staleSlots = 0
        volatileKeys.removeAll()
        volatilePositions.removeAll()
        return entries
    }

    /// Up to `count` live keys from insertion id `cursor` on, and the cursor to continue from
    /// (0 once the end is reached). Stale slots are skipped, at most `10 × count` of them per
    /// call, so one call stays bounded like Redis's SCAN.
    func scan(from cursor: UInt64, count: Int) -> (keys: [ByteBuffer], next: UInt64) {
        var low = 0
        var high = order.count
        while low < high {
            let middle = (low + high) / 2
            if order[middle].id < cursor { low = middle + 1 } else { high = middle }
        }
        var keys = [ByteBuffer]()
        var visited = 0
        var index = low
        while index < order.count, keys.count < count, visited < 10 * count {
            let (id, key) = order[index]
            if slots[key]?.insertionID == id { keys.append(key) }
            visited += 1
            index += 1
        }
        return (keys, index < order.count ? order[index].id : 0)
    }

    /// Up to `count` keys with a TTL, picked at random (possibly repeating).
    func sampleVolatileKeys(_ count: Int) -> [ByteBuffer] {
        guard !volatileKeys.isEmpty else { return [] }
        return (0..<min(count, volatileKeys.count)).compactMap { _ in volatileKeys.randomElement() }
    }

    private mutating func trackExpiry(of key: ByteBuffer, hasTTL: Bool) {
        let position = volatilePositions[key]
        switch (hasTTL, position) {
        case (true, nil):
            volatilePositions[key] = volatileKeys.count
            volatileKeys.append(key)
        case (false, let position?):
            let last = volatileKeys.removeLast()
            if position < volatileKeys.count {
                volatileKeys[position] = last
                volatilePositions[last] = position
            }
            volatilePositions[key] = nil
        default:
            break
        }
    }

    private mutating func compact() {
        let slots = self.slots
        order.removeAll { slots[$0.key]?.insertionID != $0.id }
        staleSlots = 0
    }
}
