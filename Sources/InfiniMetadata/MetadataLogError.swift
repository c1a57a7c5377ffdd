/// An error from the metadata log: a record or file that does not decode, damage recovery cannot
/// repair without losing acknowledged data, a failed system call, or misuse of a closed log.
public struct MetadataLogError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; new kinds can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case invalidRecord
            case corruptLog
            case ioFailure
            case closed
            case directoryInUse
            case checkpointInProgress
            case checkpointNotStarted
            case recordTooLarge
            case takenOver
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Bytes that do not decode to a record: truncated, an unknown kind or format, or
        /// values out of range.
        public static let invalidRecord = Code(.invalidRecord)
        /// Damage that recovery cannot repair without dropping acknowledged records: a bad
        /// record before the tail, a missing segment, or no usable checkpoint.
        public static let corruptLog = Code(.corruptLog)
        /// A system call on the log's files failed; the message names the call and the file.
        public static let ioFailure = Code(.ioFailure)
        /// The log was closed, or stopped accepting records after a failed fsync.
        public static let closed = Code(.closed)
        /// Another open log (in this or another process) holds the directory's lock.
        public static let directoryInUse = Code(.directoryInUse)
        /// ``MetadataLog/beginCheckpoint()`` was called while a checkpoint is being written.
        public static let checkpointInProgress = Code(.checkpointInProgress)
        /// ``MetadataLog/writeCheckpoint(_:at:)`` was given a boundary that is not the one in
        /// progress.
        public static let checkpointNotStarted = Code(.checkpointNotStarted)
        /// The record is longer than ``MetadataRecord/maximumEncodedLength``.
        public static let recordTooLarge = Code(.recordTooLarge)
        /// Another writer stored the log's next batch in the COS: it took the log over, and
        /// this one stops accepting records.
        public static let takenOver = Code(.takenOver)

        public var description: String { String(describing: base) }
    }

    public let code: Code
    /// One line for a human, suitable for a log message.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
