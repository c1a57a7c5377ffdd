import CProcessControl
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, and waited for by a thread of its own.
///
/// Foundation's `Process` on Linux leaves the child with descriptors other threads open while
/// it spawns, and learns of the exit through a socket the child holds; a sibling spawned at the
/// same moment can inherit that socket, and the exit then goes unnoticed until the sibling dies
/// too. Here every descriptor above standard error is closed in the child, the child starts
/// with default signal handling and nothing blocked, and the exit is learnt from `waitid`.
public final class ChildProcess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable, Equatable {
        /// The same as this process's.
        case inherit
        /// `/dev/null`.
        case nullDevice
        /// A file: read from for standard input; created if needed and appended to for output.
        case file(String)
        /// A new pipe whose other end is this process's, in ``ChildProcess/standardOutput`` or
        /// ``ChildProcess/standardError``. Not for standard input.
        case pipe
        /// Standard error only: wherever standard output goes.
        case standardOutput
    }

    /// How a child ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    private struct State {
        var termination: Termination?
        var waiters: [Int: CheckedContinuation<Termination?, Never>] = [:]
        var nextWaiter = 0
        var blockedWaiters: [DispatchSemaphore] = []
    }

    /// The child's process id; never reused for another process while this object can signal it.
    public let id: Int32
    /// The read end of the child's standard output when it goes to a ``Stream/pipe``.
    public let standardOutput: PipeReader?
    /// The read end of the child's standard error when it goes to a ``Stream/pipe``.
    public let standardError: PipeReader?
    private let state = Mutex(State())

    /// Starts `executable` (a path) with `arguments`. `environment` nil passes this process's.
    /// `newProcessGroup` keeps the terminal's Ctrl-C from reaching the child directly, so its
    /// parent decides how it stops.
    public init(
        executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        standardInput: Stream = .nullDevice,
        standardOutput: Stream = .inherit,
        standardError: Stream = .inherit,
        newProcessGroup: Bool = false
    ) throws(SpawnError) {
        guard standardInput != .pipe, standardInput != .standardOutput, standardOutput != .standardOutput else {
            throw SpawnError(executable: executable, operation: "redirect", code: EINVAL)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32: Int32] = [:]
        var childEnds: [Int32] = []
        defer { childEnds.forEach { close($0) } }
        let streams = [(STDIN_FILENO, standardInput), (STDOUT_FILENO, standardOutput), (STDERR_FILENO, standardError)]
        for (descriptor, stream) in streams {
            let result: Int32
            switch stream {
            case .inherit:
                result = 0
            case .nullDevice:
                result = posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                let flags = descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY | O_CREAT | O_APPEND
                result = posix_spawn_file_actions_addopen(&actions, descriptor, path, flags, 0o644)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard CProcessControl_closeOnExecPipe(&ends) == 0 else {
                    parentEnds.values.forEach { close($0) }
                    throw SpawnError(executable: executable, operation: "pipe", code: errno)
                }
                parentEnds[descriptor] = ends[0]
                childEnds.append(ends[1])
                result = posix_spawn_file_actions_adddup2(&actions, ends[1], descriptor)
            case .standardOutput:
                result = posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, descriptor)
            }
            guard result == 0 else {
                parentEnds.values.forEach { close($0) }
                throw SpawnError(executable: executable, operation: "redirect", code: result)
            }
        }
        CProcessControl_spawnClosesFrom(&actions, STDERR_FILENO + 1)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        // Ignored signals stay ignored across exec (the proxy ignores SIGPIPE); reset them all.
        var everySignal = sigset_t()
        sigfillset(&everySignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        var flags = Int32(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)
        if newProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = CStringArray([executable] + arguments)
        let environmentStrings = environment.map { CStringArray($0.map { "\($0.key)=\($0.value)" }) }
        var pid = pid_t()
        let result = argv.withPointers { argv in
            if let environmentStrings {
                return environmentStrings.withPointers { posix_spawn(&pid, executable, &actions, &attributes, argv, $0) }
            }
            return posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        }
        guard result == 0 else {
            parentEnds.values.forEach { close($0) }
            throw SpawnError(executable: executable, operation: "spawn", code: result)
        }
        self.id = pid
        self.standardOutput = parentEnds[STDOUT_FILENO].map(PipeReader.init(descriptor:))
        self.standardError = parentEnds[STDERR_FILENO].map(PipeReader.init(descriptor:))
        do {
            try startWaiting()
        } catch {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0, errno == EINTR {}
            throw SpawnError(executable: executable, operation: "start a thread to wait", code: error.code)
        }
    }

    /// How the child ended, or nil while it runs.
    public var termination: Termination? {
        state.withLock { $0.termination }
    }

    public var isRunning: Bool { termination == nil }

    /// Sends `signal` unless the child has already ended (and so its id may be someone else's).
    public func send(_ signal: Int32) {
        state.withLock { state in
            if state.termination == nil { kill(id, signal) }
        }
    }

    /// Waits for the child to end without holding a thread.
    public func terminated() async -> Termination {
        // Without a timeout the wait ends only with the child, so there is always a termination.
        await terminated(timeout: nil) ?? .exited(-1)
    }

    /// Waits for the child to end, at most `timeout` (nil: as long as it takes); nil on timeout.
    public func terminated(timeout: Duration?) async -> Termination? {
        await withCheckedContinuation { continuation in
            let (ended, waiter) = state.withLock { state -> (Termination?, Int) in
                guard state.termination == nil else { return (state.termination, 0) }
                state.nextWaiter += 1
                state.waiters[state.nextWaiter] = continuation
                return (nil, state.nextWaiter)
            }
            if let ended { return continuation.resume(returning: ended) }
            guard let timeout else { return }
            Task {
                try? await Task.sleep(for: timeout)
                state.withLock { $0.waiters.removeValue(forKey: waiter) }?.resume(returning: nil)
            }
        }
    }

    /// Blocks the calling thread until the child ends or `timeout` passes; nil on timeout.
    @discardableResult
    public func waitUntilTerminated(timeout: Duration? = nil) -> Termination? {
        let semaphore = DispatchSemaphore(value: 0)
        if let ended = state.withLock({ state -> Termination? in
            if state.termination == nil { state.blockedWaiters.append(semaphore) }
            return state.termination
        }) {
            return ended
        }
        if let timeout {
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            _ = semaphore.wait(timeout: .now() + .nanoseconds(Int(nanoseconds)))
        } else {
            semaphore.wait()
        }
        return termination
    }

    /// SIGTERM, then SIGKILL if the child still runs after `grace`; returns once it has ended.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) async -> Termination {
        send(SIGTERM)
        if let ended = await terminated(timeout: grace) { return ended }
        send(SIGKILL)
        return await terminated()
    }

    /// Waits on a thread of its own: without reaping first (`WNOWAIT`), so that ``send(_:)``,
    /// which holds the lock, can never signal a recycled id.
    private func startWaiting() throws(ThreadStartError) {
        let pid = id
        try startThread { [self] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
            let ended = Self.termination(of: info)
            let (waiters, blocked) = state.withLock { state in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0, errno == EINTR {}
                state.termination = ended
                defer { (state.waiters, state.blockedWaiters) = ([:], []) }
                return (state.waiters, state.blockedWaiters)
            }
            waiters.values.forEach { $0.resume(returning: ended) }
            blocked.forEach { $0.signal() }
        }
    }

    private static func termination(of info: siginfo_t) -> Termination {
        let status = info._sifields._sigchld.si_status
        return info.si_code == CLD_EXITED ? .exited(status) : .signalled(status)
    }
}

/// Why a child could not be started.
public struct SpawnError: Error, CustomStringConvertible {
    public var executable: String
    public var operation: String
    public var code: Int32

    public var description: String {
        "cannot start \(executable): \(operation) failed: \(String(cString: strerror(code)))"
    }
}

/// Copies of `strings` as NUL-terminated C strings, freed with the array.
private final class CStringArray {
    private let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    func withPointers<Result>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result) -> Result {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    deinit {
        pointers.forEach { free($0) }
    }
}

/// Runs `body` on a new detached thread: for waits that must not hold a thread of Swift's
/// cooperative pool or of Dispatch's.
public func startThread(_ body: @escaping @Sendable () -> Void) throws(ThreadStartError) {
    let context = Unmanaged.passRetained(ThreadBody(body))
    var thread = pthread_t()
    let created = pthread_create(&thread, nil, { context in
        Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().body()
        return nil
    }, context.toOpaque())
    guard created == 0 else {
        context.release()
        throw ThreadStartError(code: created)
    }
    pthread_detach(thread)
}

/// `pthread_create` failed, with `code`.
public struct ThreadStartError: Error, CustomStringConvertible {
    public var code: Int32
    public var description: String { "cannot start a thread: \(String(cString: strerror(code)))" }
}

private final class ThreadBody: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}
