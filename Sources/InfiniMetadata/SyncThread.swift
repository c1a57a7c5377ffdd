import Glibc

/// A counting semaphore (POSIX `sem_t`) that the sync thread sleeps on.
// @unchecked: sem_t is made for use from any thread, and the pointer never changes.
final class WakeSignal: @unchecked Sendable {
    private let semaphore: UnsafeMutablePointer<sem_t>

    init() {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    func signal() {
        sem_post(semaphore)
    }

    /// Sleeps until signalled, or until `seconds` have passed if given.
    func wait(seconds: Int? = nil) {
        guard let seconds else {
            while sem_wait(semaphore) != 0, errno == EINTR {}
            return
        }
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += seconds
        while sem_timedwait(semaphore, &deadline) != 0, errno == EINTR {}
    }
}

/// A POSIX thread of its own, so a blocking fsync never holds one of Swift's cooperative
/// threads.
struct SyncThread: Sendable {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private let thread: pthread_t

    init(_ run: @escaping @Sendable () -> Void) throws(MetadataLogError) {
        let body = Unmanaged.passRetained(Body(run)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                Unmanaged<Body>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            },
            body
        )
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(body).release()
            throw MetadataLogError(.ioFailure, "pthread_create: \(String(cString: strerror(result)))")
        }
        self.thread = thread
    }

    func join() {
        pthread_join(thread, nil)
    }
}
