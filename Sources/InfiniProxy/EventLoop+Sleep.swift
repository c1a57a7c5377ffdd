import NIOCore

extension EventLoop {
    /// Returns once `delay` has passed, or at once when the task is cancelled. The timer is the
    /// event loop's own: on Linux `Task.sleep` arms a libdispatch timer through its manager
    /// thread, which then woke for every read's hedge and took about a sixth of the proxy's CPU
    /// on reads from the nodes.
    func sleep(for delay: Duration) async {
        let timer = scheduleTask(in: .nanoseconds(Int64(delay / .nanoseconds(1)))) {}
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                timer.futureResult.whenComplete { _ in continuation.resume() }
            }
        } onCancel: {
            timer.cancel()
        }
    }
}
