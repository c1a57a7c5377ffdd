import InfiniCoding
public import InfiniMetadata

/// Metadata that follows from `version` alone, varied in geometry, length, stripe length,
/// placement and expiry, so a test can tell which version a recovered entry is.
public func sampleMetadata(version: UInt64) -> KeyMetadata {
    let geometry = try! ErasureGeometry(dataShards: Int(version % 10) + 1, parityShards: Int(version % 4))
    let descriptor = ObjectDescriptor(
        keyHash: version &* 0x9E37_79B9_7F4A_7C15,
        version: version,
        length: Int(version % 100_003),
        geometry: geometry,
        stripeLength: Int(version % 65_521) + 1
    )
    let placement = (0..<geometry.totalShards).map { (Int(version % 1_000) + $0) % 97 }
    return KeyMetadata(
        descriptor: descriptor,
        placement: placement,
        expiresAt: version % 3 == 0 ? 1_700_000_000_000 + Int64(version) : nil
    )
}

/// The key the crash-test writer commits version `version` under: one of `keyCount` keys.
public func sampleKey(version: UInt64, keyCount: UInt64) -> [UInt8] {
    Array("key-\(version % keyCount)".utf8)
}
