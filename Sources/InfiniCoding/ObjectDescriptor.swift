/// What the proxy's metadata records about one stored version of an object: enough to know
/// which chunks to ask for and to check that the ones that arrive belong to it.
public struct ObjectDescriptor: Hashable, Sendable {
    public var keyHash: UInt64
    public var version: UInt64
    /// The object's length in bytes, before compression.
    public var length: Int
    public var geometry: ErasureGeometry
    /// Object bytes per stripe; the last stripe may be shorter.
    public var stripeLength: Int

    public init(keyHash: UInt64, version: UInt64, length: Int, geometry: ErasureGeometry, stripeLength: Int) {
        precondition(length >= 0, "negative object length")
        precondition(stripeLength > 0 && stripeLength <= Int(UInt32.max), "stripe length out of range")
        self.keyHash = keyHash
        self.version = version
        self.length = length
        self.geometry = geometry
        self.stripeLength = stripeLength
    }

    /// How many stripes the object has; an empty object still has one (empty) stripe.
    public var stripeCount: Int { max(1, (length + stripeLength - 1) / stripeLength) }

    /// The object bytes that stripe `index` holds.
    public func byteRange(ofStripe index: Int) -> Range<Int> {
        precondition(index >= 0 && index < stripeCount, "stripe index out of range")
        let start = index * stripeLength
        return start..<min(length, start + stripeLength)
    }

    /// The stripes holding any byte of `range` (clamped to the object).
    public func stripes(overlapping range: Range<Int>) -> Range<Int> {
        let lower = max(0, range.lowerBound)
        let upper = min(length, range.upperBound)
        guard lower < upper else { return 0..<0 }
        return (lower / stripeLength)..<((upper - 1) / stripeLength + 1)
    }
}

/// A stable 64-bit hash of a key (FNV-1a), stored in chunk headers so a chunk cannot be mistaken
/// for another key's. Stable across processes and versions, unlike `Hasher`.
public enum KeyHash {
    public static func of(_ key: RawSpan) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for offset in 0..<key.byteCount {
            hash = (hash ^ UInt64(key.unsafeLoad(fromByteOffset: offset, as: UInt8.self))) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    public static func of(_ key: some Collection<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
