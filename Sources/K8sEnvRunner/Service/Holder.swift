import Foundation

/// A lease's holder: the process whose exit ends the lease (docs/reference/pool-api.md#holders).
///
/// The client names it (`acquire`'s default: the process that will use the instance, past
/// forked subshells); the service refuses a holder that would never end, and says so when a
/// holder ended at once, so a script learns to name itself (`--holder $$`).
package enum Holder {
    /// The holder `k8senv acquire` names when none is given: its parent (the shell that evals
    /// it), or — when that parent is a subshell forked for a command substitution
    /// (`x=$(k8senv acquire … 2>/dev/null)` runs acquire in one, which ends as soon as acquire
    /// has) — the shell it was forked from, walking up while a process has the executable,
    /// command line and process group of its parent. A shell started as a program of its own
    /// (`bash` typed in a shell, a script run by a script) differs in its command line or, under
    /// job control, its process group, and holds the lease itself.
    /// - Parameter pid: the asking process (default: this one).
    package static func defaultHolder(of pid: Int32 = getpid()) -> Int32 {
        var holder = ProcFS.stat(pid)?.parent ?? getppid()
        for _ in 0..<64 {
            guard let child = ProcFS.stat(holder), child.parent > 1,
                let parent = ProcFS.stat(child.parent), parent.processGroup == child.processGroup,
                let exe = ProcFS.executable(of: holder), exe == ProcFS.executable(of: child.parent),
                let arguments = ProcFS.commandLine(of: holder), arguments == ProcFS.commandLine(of: child.parent)
            else { break }
            holder = child.parent
        }
        return holder
    }

    /// Why `pid` cannot hold a lease of this service (run in the service's process), or nil.
    ///
    /// Refused: a process that is not alive or not of this user; pid 1 (init, which never
    /// exits); the service's own process; and an ancestor of the service outside the service's
    /// session — what adopted a detached supervisor (init or a subreaper such as
    /// `systemd --user` or a container's init), a login's session leader — all of which outlive
    /// the service, so the lease would never end. An ancestor in the service's own session (the
    /// shell or test process that started a foreground `up`) may hold one: it ends with that
    /// session.
    ///
    /// With a TTL the lease ends anyway, so pid 1 and the service's ancestors may hold it then (a
    /// container whose script is pid 1 has no other holder to name).
    package static func refusal(_ pid: Int32, hasTTL: Bool = false) -> String? {
        let fix =
            "name the process that uses the instance (`--holder $$` in a shell script), or give the lease a TTL (`--ttl`)"
        if pid == 1, !hasTTL {
            return "holder 1 is init, which never exits: the lease would never end; \(fix)"
        }
        if pid == getpid() {
            return
                "holder \(pid) is the pool service itself: the lease would never end; name the process that uses the instance (`--holder $$` in a shell script)"
        }
        guard let holder = ProcFS.stat(pid), !holder.hasEnded, ProcFS.owner(of: pid) == getuid() else {
            return "holder \(pid) is not a live process of uid \(getuid())"
        }
        if pid != 1, !hasTTL, let service = ProcFS.stat(getpid()), holder.session != service.session,
            isAncestorOfService(pid)
        {
            return
                "holder \(pid) started the pool service from another session (an init or a session leader that outlives it): "
                + "the lease would never end; \(fix)"
        }
        return nil
    }

    /// Why a lease is gone when its holder (`holder`) exited within a second of the grant: the
    /// holder was not the process using the instance.
    package static func endedAtOnce(lease: String, holder: Int32) -> String {
        "lease \(lease) is not held: its holder (pid \(holder)) exited within a second of the grant, which ended the lease — "
            + "the holder was a short-lived process (a subshell, as in `x=$(k8senv acquire …)`), not the script using the instance; "
            + "acquire with `--holder $$` (the script's shell) or the pid of the process that uses it"
    }

    /// Whether `pid` is an ancestor of this process.
    private static func isAncestorOfService(_ pid: Int32) -> Bool {
        var current = getppid()
        for _ in 0..<256 where current > 0 {
            if current == pid { return true }
            guard let next = ProcFS.stat(current)?.parent, next != current else { return false }
            current = next
        }
        return false
    }
}
