import Glibc
import Synchronization

/// The proxy's durable metadata: an append-only log of ``MetadataRecord``s and periodic
/// checkpoints of the whole state, in one directory on local disk.
///
/// Files in the directory:
/// - `log-<n>`: segment `n` (1, 2, …), records framed as `[length u32][crc32c u32][payload]`.
///   Only the newest segment is appended to.
/// - `checkpoint-<n>`: every key's metadata after all records of the segments before `n`, and
///   the highest version by then. Written as `checkpoint-<n>.tmp`, fsynced, renamed, and the
///   directory fsynced, so it exists whole or not at all.
/// - `LOCK`: held with `flock` while the log is open, so two proxies never share a directory.
///
/// **Writing.** ``write(_:)`` encodes a record and hands it to `write(2)` under a lock before it
/// returns: the bytes are in the page cache, which a killed process leaves behind. Surviving
/// power loss takes an fsync, which ``Configuration/fsync`` schedules as Redis's `appendfsync`
/// does; ``waitUntilDurable(_:)`` waits for the fsync that covers a record under `.always`, and
/// many waiters share one fsync (group commit). ``append(_:)`` does both.
///
/// **Order.** Records replay in the order `write` was called. An actor that logs its changes
/// should call `write` in the same synchronous stretch as the change it records, and await
/// `waitUntilDurable` afterwards, before it acknowledges: another task's change may then run and
/// log meanwhile, but never out of order with the state.
///
/// **Checkpoints.** When ``needsCheckpoint`` turns true, the owner calls ``beginCheckpoint()``,
/// which starts segment `n + 1` and returns that boundary: every record written before it
/// returned is in segments up to `n`, every later one in `n + 1` on. The owner then takes a
/// snapshot of its state that contains at least every record written before the boundary (any
/// copy taken after `beginCheckpoint` returned does) and passes it to
/// ``writeCheckpoint(_:at:)``, off the thread or actor that serves requests, while writes go
/// on. The snapshot may also contain later records: replay starts at segment `n + 1`, and
/// replaying a record onto a state that already has it changes nothing, because versions are
/// never reused and removals and expiry changes apply only to the version they name. Once the
/// checkpoint is durable, older checkpoints and segments are deleted. If writing it fails,
/// nothing is deleted, and recovery replays from the previous checkpoint across both segments.
///
/// **Recovery.** ``open(directory:configuration:)`` loads the newest checkpoint that reads back
/// whole, then replays the segments from its boundary on, which must all be there. A record
/// cut short or damaged at the end of the newest segment is what a crash mid-write leaves: the
/// segment is truncated there and appending continues. Damage anywhere else, or a damaged
/// record followed by an intact one, would mean dropping records that were acknowledged, so
/// recovery fails with an error naming the file and offset.
public final class MetadataLog: Sendable {
    /// When appended records are fsynced, as in Redis's `appendfsync`.
    public enum FsyncPolicy: Hashable, Sendable {
        /// Before ``waitUntilDurable(_:)`` returns; concurrent waiters share one fsync.
        case always
        /// By a background thread, at most once a second: power loss costs up to a second.
        case everySecond
        /// When the kernel writes the page cache back.
        case never
    }

    public struct Configuration: Sendable {
        public var fsync: FsyncPolicy
        /// Bytes of log since the last checkpoint above which ``needsCheckpoint`` is true.
        public var checkpointThreshold: Int

        public init(fsync: FsyncPolicy = .everySecond, checkpointThreshold: Int = 64 << 20) {
            self.fsync = fsync
            self.checkpointThreshold = checkpointThreshold
        }
    }

    public let directory: String
    public let configuration: Configuration
    let core: Core
    private let syncThread: SyncThread?

    init(directory: String, configuration: Configuration, state: State) throws(MetadataLogError) {
        self.directory = directory
        self.configuration = configuration
        let core = Core(state)
        self.core = core
        let policy = configuration.fsync
        syncThread = policy == .never ? nil : try SyncThread { Self.runSyncLoop(core, policy: policy) }
    }

    deinit { try? close() }

    /// Appends `record` to the log with `write(2)`; once this returns, only losing the machine
    /// (not just the process) can lose the record, and only until it is fsynced.
    ///
    /// - Throws: ``MetadataLogError/Code/recordTooLarge`` for a key over
    ///   ``MetadataRecord/maximumKeyLength``; ``MetadataLogError/Code/closed`` after
    ///   ``close()`` or a failed fsync; ``MetadataLogError/Code/ioFailure`` if the write fails,
    ///   in which case nothing of the record stays in the log.
    public func write(_ record: MetadataRecord) throws(MetadataLogError) -> MetadataLogPosition {
        let frame = try Frame.encode(record)
        let version = record.version ?? 0
        var stopped = false
        defer { if stopped { core.failWaiters() } }
        return try core.state.withLock { state throws(MetadataLogError) -> MetadataLogPosition in
            let segment = try state.writableSegment()
            do throws(MetadataLogError) {
                try segment.write(frame)
            } catch {
                // A partial write would leave a torn record in front of the next one.
                do throws(MetadataLogError) {
                    try segment.truncate(to: state.segmentLength)
                } catch let truncateError {
                    state.failure = truncateError
                    stopped = true
                }
                throw error
            }
            state.segmentLength += frame.count
            state.logBytes += frame.count
            state.highestVersion = max(state.highestVersion, version)
            state.written += 1
            return MetadataLogPosition(index: state.written)
        }
    }

    /// Returns once the record at `position` (which this log returned) is fsynced under
    /// ``FsyncPolicy/always``; at once under the other policies.
    ///
    /// - Throws: The fsync's ``MetadataLogError/Code/ioFailure`` if it failed; the log then
    ///   refuses further records.
    public func waitUntilDurable(_ position: MetadataLogPosition) async throws(MetadataLogError) {
        guard configuration.fsync == .always else { return }
        let core = self.core
        let failure: MetadataLogError? = await withCheckedContinuation { continuation in
            let outcome = core.state.withLock { state -> WaitOutcome in
                if state.synced >= position.index { return .done(nil) }
                if let failure = state.failure { return .done(failure) }
                state.waiters.append(Waiter(position: position.index, continuation: continuation))
                guard !state.syncRequested else { return .waiting(wake: false) }
                state.syncRequested = true
                return .waiting(wake: true)
            }
            switch outcome {
            case .done(let failure): continuation.resume(returning: failure)
            case .waiting(let wake): if wake { core.wake.signal() }
            }
        }
        if let failure { throw failure }
    }

    /// ``write(_:)`` then ``waitUntilDurable(_:)``. Runs on the caller's executor, so the write
    /// happens before the first suspension; see the type's notes on order for actors.
    public nonisolated(nonsending) func append(_ record: MetadataRecord) async throws(MetadataLogError) {
        let position = try write(record)
        try await waitUntilDurable(position)
    }

    /// Whether the log since the last checkpoint exceeds ``Configuration/checkpointThreshold``
    /// and no checkpoint is being written.
    public var needsCheckpoint: Bool {
        core.state.withLock { state in
            state.segment != nil && state.checkpoint == nil && state.logBytes >= configuration.checkpointThreshold
        }
    }

    /// The highest version any record written so far has named, including recovered ones.
    public var highestVersion: UInt64 {
        core.state.withLock { $0.highestVersion }
    }

    /// Fsyncs what was written (unless the policy is `.never`), stops the sync thread and closes
    /// the files. Writes after this throw ``MetadataLogError/Code/closed``; closing twice does
    /// nothing.
    ///
    /// - Throws: The final fsync's error, if it failed.
    public func close() throws(MetadataLogError) {
        let first = core.state.withLock { state in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        if let syncThread {
            core.wake.signal()
            syncThread.join()
        }
        let failure = core.state.withLock { state in
            state.segment = nil
            state.lock = nil
            return state.failure
        }
        if let failure { throw failure }
    }

    /// The sync thread: fsyncs the current segment when asked (`.always`) or each second
    /// (`.everySecond`), then wakes the waiters it covered; on close, syncs once more and ends.
    private static func runSyncLoop(_ core: Core, policy: FsyncPolicy) {
        var stopping = false
        while !stopping {
            core.wake.wait(seconds: policy == .everySecond ? 1 : nil)
            let job = core.state.withLock { state -> (file: LogFile, target: UInt64)? in
                state.syncRequested = false
                stopping = state.stopping
                guard state.failure == nil, state.written > state.synced, let segment = state.segment else {
                    return nil
                }
                return (segment, state.written)
            }
            guard let job else { continue }
            do throws(MetadataLogError) {
                try job.file.syncData()
                core.finishSync(through: job.target, failure: nil)
            } catch {
                core.finishSync(through: job.target, failure: error)
            }
        }
    }
}

extension MetadataLog {
    /// What the log's lock protects, shared with the sync thread.
    final class Core: Sendable {
        let state: Mutex<State>
        let wake = WakeSignal()

        init(_ state: consuming State) {
            self.state = Mutex(state)
        }

        /// Resumes every waiter with the failure that stopped the log.
        func failWaiters() {
            finishSync(through: 0, failure: nil)
        }

        /// Records that everything up to `target` is fsynced (or that the fsync failed) and
        /// resumes the waiters that settles: all of them once the log has failed.
        func finishSync(through target: UInt64, failure: MetadataLogError?) {
            let (ready, outcome) = state.withLock { state -> ([Waiter], MetadataLogError?) in
                if let failure { state.failure = state.failure ?? failure }
                guard state.failure == nil else {
                    defer { state.waiters = [] }
                    return (state.waiters, state.failure)
                }
                state.synced = max(state.synced, target)
                let synced = state.synced
                let ready = state.waiters.filter { $0.position <= synced }
                state.waiters.removeAll { $0.position <= synced }
                return (ready, nil)
            }
            for waiter in ready { waiter.continuation.resume(returning: outcome) }
        }
    }

    struct Waiter: Sendable {
        let position: UInt64
        let continuation: CheckedContinuation<MetadataLogError?, Never>
    }

    enum WaitOutcome {
        case done(MetadataLogError?)
        case waiting(wake: Bool)
    }

    struct State: Sendable {
        /// The segment being appended to; nil once closed.
        var segment: LogFile?
        var segmentSequence: UInt64
        var segmentLength: Int
        var lock: LogFile?
        /// Bytes of log since the last checkpoint.
        var logBytes: Int
        var highestVersion: UInt64
        /// Records written, and fsynced, since the log was opened.
        var written: UInt64 = 0
        var synced: UInt64 = 0
        var waiters: [Waiter] = []
        var syncRequested = false
        var stopping = false
        /// A failed fsync or an unrepaired partial write: no record is accepted after it.
        var failure: MetadataLogError?
        var checkpoint: MetadataCheckpointBoundary?

        func writableSegment() throws(MetadataLogError) -> LogFile {
            if let failure {
                throw MetadataLogError(.closed, "the metadata log stopped accepting records after: \(failure.message)")
            }
            guard !stopping, let segment else { throw MetadataLogError(.closed, "the metadata log is closed") }
            return segment
        }
    }
}
