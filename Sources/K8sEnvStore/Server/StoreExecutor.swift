import Foundation

/// Runs the store's tasks (gRPC handlers, watch streams, lease expiry) on two threads of its own.
///
/// The embedded store lives in the process of its user — often a test process whose code blocks
/// Swift's cooperative threads (a synchronous `Process.waitUntilExit()` while kubectl talks to the
/// API server, say). With two cores there are only two such threads; if the store's handlers
/// needed one, such a test would wait for the API server, which waits for the store, which waits
/// for a thread: a deadlock until some timeout. On its own threads the store always answers.
final class StoreExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `jobs` and `head` are only touched with `condition` locked.
    static let shared = StoreExecutor(threads: 2)

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var head = 0

    private init(threads: Int) {
        for index in 0..<threads {
            let thread = Thread { [unowned self] in self.work() }
            thread.name = "k8senv-store-\(index)"
            thread.start()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func work() {
        while true {
            condition.lock()
            while head == jobs.count { condition.wait() }
            let job = jobs[head]
            head += 1
            if head == jobs.count {
                jobs.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
