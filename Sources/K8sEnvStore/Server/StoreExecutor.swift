import K8sEnvSystem
import NIOPosix

/// Runs the stores' tasks (gRPC handlers, watch streams, lease expiry) on the one event-loop
/// thread that also does their network I/O. One for the process, never shut down: stores come
/// and go (a pool's instances), the thread stays; a job of a stopped store never finds it gone.
///
/// - Its own thread: the embedded store lives in the process of its user — often a test process
///   whose code blocks Swift's cooperative threads (a synchronous `Process.waitUntilExit()` while
///   kubectl talks to the API server, say). With two cores there are only two such threads; if
///   the store's handlers needed one, such a test would wait for the API server, which waits for
///   the store, which waits for a thread: a deadlock until some timeout.
/// - The I/O thread: a request read by the event loop runs its handler on the same thread, and
///   the response goes out from it, without waking another thread for each step (measured: those
///   wake-ups cost about a quarter of kube-apiserver's create rate).
enum StoreExecutor {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    static let shared = EventLoopExecutor(group.next())
}
