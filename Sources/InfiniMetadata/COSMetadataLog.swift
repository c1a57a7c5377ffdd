public import InfiniCOS
import NIOCore
import Synchronization

/// The proxy's metadata log kept in the COS instead of on local disk, so a proxy that loses its
/// machine, not just its process, comes back with every acknowledged write on any machine that
/// reaches the same bucket.
///
/// Objects under the prefix (``Configuration/prefix``, `metadata` by default), numbered with 20
/// digits so names sort in order:
/// - `<prefix>/log/<n>`: batch `n` (1, 2, …): the records written since batch `n − 1` was
///   sealed, framed as in a ``MetadataLog`` segment.
/// - `<prefix>/checkpoints/<n>`: every key's metadata after all batches before `n`, in
///   ``MetadataLog``'s checkpoint format.
///
/// **Writing.** ``write(_:)`` adds the record to the open batch in memory. A flusher task seals
/// the open batch and stores it whenever a caller waits on a record in it, and at least every
/// ``Configuration/flushInterval``. One put is in flight at a time and batches go in order, so
/// records that arrive during a put go out together in the next (group commit), and the COS
/// holds batches `1…n` with no gap: a crash loses only batches nobody was told were durable.
/// ``waitUntilDurable(_:)`` returns once the record's batch is stored, whatever the fsync policy
/// is, since a killed proxy leaves no page cache behind here. A put that fails after the
/// storage's own retries fails the waits on it at once, whose records may or may not end up
/// stored, as after a timeout; the batch is tried again with backoff while the log goes on
/// taking records, so an outage of the COS costs errors while it lasts, not a restart.
///
/// **Checkpoints.** ``beginCheckpoint()`` seals the open batch, so the boundary is the next
/// batch's number; ``checkpoint(_:at:)`` stores the snapshot, then deletes the batches and
/// checkpoints it replaces. A batch below the boundary still being stored then becomes an
/// orphan that the next recovery deletes.
///
/// **Recovery.** ``open(storage:configuration:)`` reads the newest checkpoint that decodes, then
/// fetches the batches from its boundary on in parallel and replays them in order. Objects are
/// stored whole, so a batch that is missing or damaged is not a torn write: recovery stops with
/// an error naming it.
///
/// **One writer.** Batches are created only where there is no object (``ObjectStorage/create(_:bytes:)``),
/// so when a second log takes the prefix over (a proxy started on another machine) while the
/// first still runs, the two never interleave: the first to store the next batch number keeps
/// writing, and the other finds that batch written by someone else and stops accepting
/// records (``MetadataLogError/Code/takenOver``). A batch found holding exactly the bytes being
/// stored is an earlier try of the same put whose answer was lost.
public final class COSMetadataLog: DurableMetadataLog {
    public struct Configuration: Sendable {
        /// Where the log's objects go.
        public var prefix: String
        /// Bytes of log since the last checkpoint above which ``needsCheckpoint`` is true.
        public var checkpointThreshold: Int
        /// Batches since the last checkpoint above which ``needsCheckpoint`` is true: each is a
        /// request at recovery.
        public var checkpointBatches: Int
        /// How long a record nobody waits on may stay in memory.
        public var flushInterval: Duration

        public init(
            prefix: String = "metadata",
            checkpointThreshold: Int = 64 << 20,
            checkpointBatches: Int = 1024,
            flushInterval: Duration = .seconds(1)
        ) {
            self.prefix = prefix
            self.checkpointThreshold = checkpointThreshold
            self.checkpointBatches = checkpointBatches
            self.flushInterval = flushInterval
        }
    }

    /// Batches recovery fetches at once.
    static let requestConcurrency = 16
    /// The wait before storing a refused batch again, doubled after each refusal up to
    /// ``maximumRetryDelay``.
    static let firstRetryDelay = Duration.milliseconds(100)
    static let maximumRetryDelay = Duration.seconds(5)

    public let storage: any ObjectStorage
    public let configuration: Configuration
    private let state: Mutex<State>
    private let wakeups: AsyncStream<Void>.Continuation
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// Yields once if another writer takes the log over, and ends then or when the log shuts
    /// down; one consumer, which should stop using the log (a proxy then stops serving).
    public let takeovers: AsyncStream<MetadataLogError>
    private let takeoverContinuation: AsyncStream<MetadataLogError>.Continuation

    private init(storage: any ObjectStorage, configuration: Configuration, state: State) {
        self.storage = storage
        self.configuration = configuration
        self.state = Mutex(state)
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.wakeups = continuation
        (takeovers, takeoverContinuation) = AsyncStream.makeStream(of: MetadataLogError.self)
        let interval = configuration.flushInterval
        // The tasks hold the log until shutDown() ends them.
        let flusher = Task { [self] in await runFlusher(stream) }
        let ticker = Task {
            while (try? await Task.sleep(for: interval)) != nil { continuation.yield() }
        }
        tasks.withLock { $0 = [flusher, ticker] }
    }

    public func write(_ record: MetadataRecord) throws(MetadataLogError) -> MetadataLogPosition {
        let frame = try Frame.encode(record)
        let version = record.version ?? 0
        return try state.withLock { state throws(MetadataLogError) -> MetadataLogPosition in
            try state.checkAccepting()
            state.open.write(frame)
            state.written += 1
            state.logBytes += frame.count
            state.highestVersion = max(state.highestVersion, version)
            return MetadataLogPosition(index: state.written)
        }
    }

    /// Returns once the batch holding the record at `position` is stored in the COS.
    ///
    /// - Throws: The put's failure if an attempt to store a batch failed while this waited (the
    ///   record may still be stored later); ``MetadataLogError/Code/closed`` if the log was
    ///   shut down first.
    public func waitUntilDurable(_ position: MetadataLogPosition) async throws(MetadataLogError) {
        let failure: MetadataLogError? = await withCheckedContinuation { continuation in
            let settled = state.withLock { state -> MetadataLogError?? in
                if state.durable >= position.index { return .some(nil) }
                if let failure = state.failure ?? state.closedError { return .some(failure) }
                state.waiters.append(Waiter(position: position.index, continuation: continuation))
                return .none
            }
            if let settled {
                continuation.resume(returning: settled)
            } else {
                wakeups.yield()
            }
        }
        if let failure { throw failure }
    }

    public var needsCheckpoint: Bool {
        state.withLock { state in
            state.checkpoint == nil && !state.isClosed
                && (state.logBytes >= configuration.checkpointThreshold
                    || Int(state.nextSequence - state.base) >= configuration.checkpointBatches)
        }
    }

    public var highestVersion: UInt64 { state.withLock { $0.highestVersion } }

    /// Starts a checkpoint: seals the open batch, so every record written before this returns is
    /// in a batch before the boundary.
    ///
    /// - Throws: ``MetadataLogError/Code/checkpointInProgress`` while another one is being
    ///   written; ``MetadataLogError/Code/closed`` once the log is.
    public func beginCheckpoint() throws(MetadataLogError) -> MetadataCheckpointBoundary {
        try state.withLock { state throws(MetadataLogError) -> MetadataCheckpointBoundary in
            try state.checkAccepting()
            if let checkpoint = state.checkpoint {
                throw MetadataLogError(.checkpointInProgress, "checkpoint \(checkpoint.sequence) is still being written")
            }
            state.seal()
            let boundary = MetadataCheckpointBoundary(
                sequence: state.nextSequence,
                highestVersion: state.highestVersion,
                logBytes: state.logBytes
            )
            state.checkpoint = boundary
            return boundary
        }
    }

    /// Stores the checkpoint begun at `boundary`, then deletes the batches and checkpoints it
    /// replaces. If storing it fails, nothing is deleted and another one can be begun.
    public func checkpoint(
        _ entries: [(key: [UInt8], value: KeyMetadata)],
        at boundary: MetadataCheckpointBoundary
    ) async throws(MetadataLogError) {
        try state.withLock { state throws(MetadataLogError) in
            try state.checkAccepting()
            guard state.checkpoint == boundary else {
                throw MetadataLogError(.checkpointNotStarted, "no checkpoint at batch \(boundary.sequence) is in progress")
            }
        }
        let name = Self.name(configuration.prefix, .checkpoint, boundary.sequence)
        do throws(MetadataLogError) {
            var bytes = ByteBuffer()
            try CheckpointFile.encode(entries, at: boundary, flushingEvery: 1 << 20) { bytes.writeBytes($0) }
            try await Self.request("storing \(name)") { try await storage.put(name, bytes: bytes) }
        } catch {
            state.withLock { $0.checkpoint = nil }
            throw error
        }
        state.withLock { state in
            state.logBytes -= boundary.logBytes
            state.base = boundary.sequence
            state.checkpoint = nil
        }
        try await removeObjects(before: boundary.sequence)
    }

    /// Stores what was written, ends the flusher, and refuses records from then on; waiting on
    /// a record that could not be stored throws ``MetadataLogError/Code/closed``.
    ///
    /// - Throws: The failure that stopped the log, if one did.
    public func shutDown() async throws(MetadataLogError) {
        state.withLock { $0.isClosed = true }
        wakeups.finish()
        let tasks = self.tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks.dropFirst() { task.cancel() }
        for task in tasks { await task.value }
        let (waiters, failure) = state.withLock { state in
            defer { state.waiters = [] }
            return (state.waiters, state.failure)
        }
        for waiter in waiters { waiter.continuation.resume(returning: failure ?? State.closed) }
        takeoverContinuation.finish()
        if let failure { throw failure }
    }

    /// Stores batches until none is left, each time the flusher is woken; after the stream ends
    /// (at shut down), once more.
    private func runFlusher(_ wakeups: AsyncStream<Void>) async {
        for await _ in wakeups {
            guard await flush() else { return }
        }
        _ = await flush()
    }

    /// Stores the sealed batches and then the open one, in order, until there is nothing left.
    /// A batch the COS refuses stays first in line and is tried again, backing off up to
    /// ``maximumRetryDelay``; everyone waiting meanwhile is told of the failure at once. Once
    /// the log is shut down, a refusal is final: returns false then.
    private func flush() async -> Bool {
        var delay = Self.firstRetryDelay
        while let batch = state.withLock({ state -> Batch? in
            if state.sealed.isEmpty { state.seal() }
            return state.sealed.first
        }) {
            let name = Self.name(configuration.prefix, .batch, batch.sequence)
            let failure: MetadataLogError?
            do throws(MetadataLogError) {
                try await store(batch, as: name)
                failure = nil
            } catch {
                failure = error
            }
            let (ready, stopped) = state.withLock { state -> ([Waiter], Bool) in
                if let failure {
                    if state.isClosed || failure.code == .takenOver {
                        state.failure = failure
                        state.isClosed = true
                    }
                    defer { state.waiters = [] }
                    return (state.waiters, state.isClosed)
                }
                state.sealed.removeFirst()
                state.durable = batch.through
                let durable = state.durable
                let ready = state.waiters.filter { $0.position <= durable }
                state.waiters.removeAll { $0.position <= durable }
                return (ready, false)
            }
            for waiter in ready { waiter.continuation.resume(returning: failure) }
            if let failure, failure.code == .takenOver { takeoverContinuation.yield(failure) }
            if stopped { return false }
            if failure != nil {
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, Self.maximumRetryDelay)
            } else {
                delay = Self.firstRetryDelay
            }
        }
        return true
    }

    /// Creates the batch's object; one already there must be an earlier try of this put.
    private func store(_ batch: Batch, as name: ObjectName) async throws(MetadataLogError) {
        let bytes = ByteBuffer(bytes: batch.bytes)
        if try await Self.request("storing \(name)", { try await storage.create(name, bytes: bytes) }) { return }
        let found = try await Self.request("reading \(name) back", { try await storage.get(name) })
        guard found == bytes else {
            throw MetadataLogError(
                .takenOver,
                "another proxy took the metadata log over: it stored \(name) first, and this proxy takes no more writes"
            )
        }
    }

    /// Deletes the batches and checkpoints that checkpoint `sequence` replaces.
    private func removeObjects(before sequence: UInt64) async throws(MetadataLogError) {
        let prefix = configuration.prefix
        let (batches, checkpoints) = try await Self.objects(under: prefix, in: storage)
        let stale = batches.filter { $0 < sequence }.map { Self.name(prefix, .batch, $0) }
            + checkpoints.filter { $0 < sequence }.map { Self.name(prefix, .checkpoint, $0) }
        try await Self.request("deleting \(stale.count) replaced metadata objects") { try await storage.delete(stale) }
    }

    /// Runs one COS request, its error turned into the log's.
    static func request<Result>(
        _ what: String,
        _ body: () async throws -> Result
    ) async throws(MetadataLogError) -> Result {
        do {
            return try await body()
        } catch {
            throw MetadataLogError(.ioFailure, "metadata log: \(what) failed: \(error)")
        }
    }
}

extension COSMetadataLog {
    /// Opens the log under the configured prefix, recovers the state it holds, and starts
    /// taking records after the last batch.
    ///
    /// - Throws: ``MetadataLogError/Code/corruptLog`` when a batch after the checkpoint is
    ///   missing or damaged, or batches exist that no readable checkpoint covers;
    ///   ``MetadataLogError/Code/ioFailure`` when a request fails or the prefix is not a
    ///   valid object name.
    public static func open(
        storage: any ObjectStorage,
        configuration: Configuration = Configuration()
    ) async throws(MetadataLogError) -> (log: COSMetadataLog, recovery: MetadataRecovery) {
        let prefix = configuration.prefix
        guard (try? ObjectName(prefix + "/log/" + LogFileName.digits(0))) != nil else {
            throw MetadataLogError(.ioFailure, "metadata log: '\(prefix)' cannot start an object name")
        }
        var notes = [String]()
        let (batches, checkpoints) = try await objects(under: prefix, in: storage)

        var state = MetadataState()
        var base: UInt64?
        for sequence in checkpoints.sorted(by: >) {
            let name = Self.name(prefix, .checkpoint, sequence)
            guard let bytes = try await request("reading \(name)", { try await storage.get(name) }) else { continue }
            do throws(MetadataLogError) {
                state = try CheckpointFile.read(FrameBytes(path: name.rawValue, bytes: Array(bytes.readableBytesView)), sequence: sequence)
                base = sequence
                break
            } catch where error.code == .corruptLog {
                notes.append("passed over \(name): \(error.message)")
            }
        }

        let first = base ?? 1
        let live = batches.filter { $0 >= first }
        if base == nil, !batches.isEmpty || !checkpoints.isEmpty, live.first != 1 {
            let why = checkpoints.isEmpty ? "no checkpoint covers it" : "every checkpoint is damaged"
            throw MetadataLogError(.corruptLog, "metadata log \(prefix): \(Self.name(prefix, .batch, 1)) is missing and \(why)")
        }
        for (index, sequence) in live.enumerated() where sequence != first + UInt64(index) {
            throw MetadataLogError(.corruptLog, "metadata log \(prefix): \(Self.name(prefix, .batch, first + UInt64(index))) is missing")
        }
        let names = live.map { Self.name(prefix, .batch, $0) }
        let contents = try await request("reading \(names.count) metadata batches") {
            try await mapConcurrently(names, limit: requestConcurrency) { try await storage.get($0) }
        }
        var replayed = 0
        var logBytes = 0
        for (name, bytes) in zip(names, contents) {
            guard let bytes else { throw MetadataLogError(.corruptLog, "metadata log \(prefix): \(name) is missing") }
            replayed += try replay(FrameBytes(path: name.rawValue, bytes: Array(bytes.readableBytesView)), into: &state)
            logBytes += bytes.readableBytes
        }

        let stale = batches.filter { $0 < first }.map { Self.name(prefix, .batch, $0) }
            + checkpoints.filter { $0 < base ?? 0 }.map { Self.name(prefix, .checkpoint, $0) }
        try await request("deleting \(stale.count) replaced metadata objects") { try await storage.delete(stale) }
        if !stale.isEmpty {
            notes.append("deleted \(stale.count) object\(stale.count == 1 ? "" : "s") an earlier checkpoint replaced")
        }

        let logState = State(
            nextSequence: (live.last ?? first - 1) + 1,
            base: first,
            logBytes: logBytes,
            highestVersion: state.highestVersion
        )
        let log = COSMetadataLog(storage: storage, configuration: configuration, state: logState)
        return (log, MetadataRecovery(state: state, replayedRecords: replayed, notes: notes))
    }

    /// Applies every record of one batch, which must be whole: objects are never torn.
    private static func replay(_ batch: FrameBytes, into state: inout MetadataState) throws(MetadataLogError) -> Int {
        var scanner = try FrameScanner(batch)
        let (records, offset, problem) = try scanner.replay(into: &state)
        if let problem { throw MetadataLogError(.corruptLog, "\(batch.path) at offset \(offset): \(problem)") }
        return records
    }

    /// The numbers of the batches and of the checkpoints under `prefix`, ascending, from one
    /// listing.
    private static func objects(
        under prefix: String,
        in storage: any ObjectStorage
    ) async throws(MetadataLogError) -> (batches: [UInt64], checkpoints: [UInt64]) {
        let names = try await request("listing \(prefix)") { try await storage.list(prefix: prefix) }
        return (
            names.compactMap { sequence(of: $0, prefix, .batch) }.sorted(),
            names.compactMap { sequence(of: $0, prefix, .checkpoint) }.sorted()
        )
    }

    enum ObjectKind {
        case batch
        case checkpoint

        var folder: String { self == .batch ? "log" : "checkpoints" }
    }

    static func name(_ prefix: String, _ kind: ObjectKind, _ sequence: UInt64) -> ObjectName {
        // open(storage:configuration:) checked the prefix, and digits keep the name valid.
        try! ObjectName("\(prefix)/\(kind.folder)/\(LogFileName.digits(sequence))")
    }

    static func sequence(of name: ObjectName, _ prefix: String, _ kind: ObjectKind) -> UInt64? {
        let folder = "\(prefix)/\(kind.folder)/"
        guard name.rawValue.hasPrefix(folder) else { return nil }
        let digits = name.rawValue.dropFirst(folder.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }
}

extension COSMetadataLog {
    /// Records sealed into one object.
    struct Batch: Sendable {
        let sequence: UInt64
        let bytes: [UInt8]
        /// The position of its last record.
        let through: UInt64
    }

    struct Waiter: Sendable {
        let position: UInt64
        let continuation: CheckedContinuation<MetadataLogError?, Never>
    }

    struct State: Sendable {
        static let closed = MetadataLogError(.closed, "the metadata log is closed")

        /// Records written since the last batch was sealed.
        var open = ByteWriter(capacity: 4096)
        /// Sealed batches not yet stored, oldest first.
        var sealed: [Batch] = []
        var nextSequence: UInt64
        /// The first batch the newest checkpoint does not cover.
        var base: UInt64
        var logBytes: Int
        var highestVersion: UInt64
        var written: UInt64 = 0
        var durable: UInt64 = 0
        var waiters: [Waiter] = []
        var checkpoint: MetadataCheckpointBoundary?
        var isClosed = false
        /// A put that failed once the log was shut down: nothing is accepted after it.
        var failure: MetadataLogError?

        init(nextSequence: UInt64, base: UInt64, logBytes: Int, highestVersion: UInt64) {
            self.nextSequence = nextSequence
            self.base = base
            self.logBytes = logBytes
            self.highestVersion = highestVersion
        }

        var closedError: MetadataLogError? { isClosed ? Self.closed : nil }

        func checkAccepting() throws(MetadataLogError) {
            if let failure {
                throw MetadataLogError(.closed, "the metadata log stopped accepting records after: \(failure.message)")
            }
            if isClosed { throw Self.closed }
        }

        /// Turns the open records into the next batch, if there are any.
        mutating func seal() {
            guard !open.bytes.isEmpty else { return }
            sealed.append(Batch(sequence: nextSequence, bytes: open.bytes, through: written))
            nextSequence += 1
            open.removeAll()
        }
    }
}
