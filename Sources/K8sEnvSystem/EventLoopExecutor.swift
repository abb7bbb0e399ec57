import NIOCore

/// A task executor that runs its jobs on one SwiftNIO event loop: the thread that also does the
/// network I/O of the channels on that loop. A task that prefers it (`Task(executorPreference:)`,
/// `withTaskExecutorPreference`, inherited by child tasks) is resumed there when an answer
/// arrives, in the same turn of the loop that read it, instead of waking one of Swift's
/// cooperative threads for each step and handing the data over. Used by the embedded store
/// (`StoreExecutor`) and by k8senv's API client (each `KubeClient`'s requests run on the loop of
/// its connection).
package final class EventLoopExecutor: TaskExecutor {
    package let eventLoop: any EventLoop

    package init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
