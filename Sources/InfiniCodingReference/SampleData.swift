/// A small, fast, seedable generator so every random test and benchmark input can be replayed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Deterministic inputs for tests and benchmarks.
public enum SampleData {
    /// Incompressible bytes.
    public static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var index = 0
            while index < count {
                var word = generator.next()
                for _ in 0..<min(8, count - index) {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    index += 1
                }
            }
            initialized = count
        }
    }

    /// Registry-log-like text: repeated tokens with varying numbers; LZ4 shrinks it to about 55%.
    public static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        let words: [[UInt8]] = ["GET", "PUT", "/v2/blobs/", "sha256:", "200", "404", " OK ", "registry", "\n"]
            .map { Array($0.utf8) }
        var output = [UInt8]()
        output.reserveCapacity(count + 32)
        while output.count < count {
            output += words[Int(generator.next() % UInt64(words.count))]
            output += Array(String(generator.next() % 10_000).utf8)
            output.append(0x20)
        }
        return Array(output.prefix(count))
    }
}
