/// An error from the coding layer: a bad geometry, too few chunks to decode, or a chunk that
/// failed validation (corrupted, truncated, or belonging to another object).
public struct CodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidGeometry
            case tooFewChunks
            case invalidChunk
            case chunkMismatch
            case checksumMismatch
            case compressionFailed
            case decompressionFailed
            case bufferTooSmall
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The data/parity shard counts are out of range.
        public static let invalidGeometry = Code(.invalidGeometry)
        /// Fewer chunks survive than there are data shards.
        public static let tooFewChunks = Code(.tooFewChunks)
        /// A chunk is malformed: bad magic, version, header checksum, or inconsistent lengths.
        public static let invalidChunk = Code(.invalidChunk)
        /// A well-formed chunk that belongs to another object, version, stripe or geometry.
        public static let chunkMismatch = Code(.chunkMismatch)
        /// The payload's CRC32C does not match the header: the bytes were corrupted.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// LZ4 refused to compress (only possible with an undersized destination).
        public static let compressionFailed = Code(.compressionFailed)
        /// The LZ4 block is malformed or does not decode to the recorded length.
        public static let decompressionFailed = Code(.decompressionFailed)
        /// A caller-supplied destination cannot hold the result.
        public static let bufferTooSmall = Code(.bufferTooSmall)

        public var description: String { String(describing: base) }
    }

    public let code: Code
    /// One line for a human, suitable for an error reply or a log message.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
