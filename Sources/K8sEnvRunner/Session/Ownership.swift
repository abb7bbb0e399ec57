import Foundation
import K8sEnvSpec

/// What k8senv can prove it made: a folder it created carries a mark only this user's k8senv can
/// write, and a process it started is known by pid, binary and start time together. A
/// repository's files (a committed `.k8senv/`), another user, or a recycled pid can match none of
/// these, so `up`, `run` and `down` never delete or signal what they did not make
/// (docs/explanation/security.md).
package enum Ownership {
    /// The name of the mark file in a run folder.
    static let markName = ".k8senv-owner"

    /// This user's secret: `${XDG_STATE_HOME:-~/.local/state}/k8senv/owner.key`, 32 random bytes
    /// as hex, 0600 in a 0700 folder; made on first use. Nil if it cannot be read or made.
    static func key() -> String? {
        let environment = ProcessInfo.processInfo.environment
        let base =
            environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.local/state")
        let folder = base + "/k8senv"
        let path = folder + "/owner.key"
        if let key = readPrivate(path) { return key }
        guard (try? PrivateFiles.makeDirectory(folder)) != nil, isOwnedDirectory(folder) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        let file = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { return nil }
        let n = read(file, &bytes, bytes.count)
        close(file)
        guard n == bytes.count else { return nil }
        let key = bytes.map { String(format: "%02x", $0) }.joined()
        // Two processes making it at once: link() lets one win; both then read the winner's.
        guard (try? PrivateFiles.writeAtomically(bytes: Array((key + "\n").utf8), to: path, replacing: false)) != nil
        else { return nil }
        return readPrivate(path)
    }

    /// A file's trimmed text if it is a regular file (not a symlink) of this user, not readable
    /// by others.
    private static func readPrivate(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid(),
            info.st_mode & 0o077 == 0,
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return key.count == 64 ? key : nil
    }

    /// The mark of `folder`: SHA-256 over the key and the folder's path, so a mark copied to
    /// another path proves nothing there.
    static func mark(for folder: String) -> String? {
        guard let key = key() else { return nil }
        return SHA256Hasher.hex(Array("k8senv run folder\n\(key)\n\(folder)".utf8))
    }

    /// Marks `folder` as made by this user's k8senv.
    static func markFolder(_ folder: String) throws(ProcessError) {
        guard let mark = mark(for: folder) else {
            throw ProcessError(
                .files, "cannot read or create k8senv's key under ${XDG_STATE_HOME:-~/.local/state}/k8senv")
        }
        try PrivateFiles.write(mark + "\n", to: folder + "/" + markName)
    }

    /// Whether `folder` is a real folder of this user carrying its mark.
    static func isMarked(_ folder: String) -> Bool {
        guard isOwnedDirectory(folder), let expected = mark(for: folder) else { return false }
        var info = stat()
        let path = folder + "/" + markName
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_uid == getuid(),
            let text = try? String(contentsOfFile: path, encoding: .utf8)
        else { return false }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) == expected
    }

    /// A folder itself (not a symlink to one) owned by this user.
    static func isOwnedDirectory(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR && info.st_uid == getuid()
    }

    /// Why `path` is not a folder k8senv may use as its own, or nil if it is (or does not exist):
    /// a symlink, another user's, not a folder, or one other users may write in (they could
    /// replace the names k8senv writes there; k8senv never changes the mode of a folder it did
    /// not just make).
    static func refusal(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        switch info.st_mode & S_IFMT {
        case S_IFLNK: return "\(path) is a symlink"
        case S_IFDIR:
            if info.st_uid != getuid() { return "\(path) belongs to another user (uid \(info.st_uid))" }
            if info.st_mode & 0o022 != 0 {
                return
                    "\(path) is writable by other users (mode \(String(info.st_mode & 0o7777, radix: 8)); `chmod go-w` it if it is yours)"
            }
            return nil
        default: return "\(path) is not a folder"
        }
    }

    /// The start time of a process, in clock ticks since boot (field 22 of /proc/PID/stat).
    package static func startTime(of pid: Int32) -> UInt64? {
        ProcFS.stat(pid)?.startTime
    }

    /// Whether `pid` is alive (not a zombie) and started at `startTime` (not a recycled pid).
    package static func isLive(_ pid: Int32, startedAt startTime: UInt64) -> Bool {
        guard let stat = ProcFS.stat(pid) else { return false }
        return !stat.hasEnded && stat.startTime == startTime
    }

    /// Whether `pid` is the process that was recorded: alive, running `binary`, started at
    /// `startTime`. A recycled pid, or a record naming a process k8senv did not start, fails.
    static func isSame(_ pid: Int32, binary: String, startTime: UInt64?) -> Bool {
        guard let startTime, StateFolder.isAlive(pid), Ownership.startTime(of: pid) == startTime,
            let exe = ProcFS.executable(of: pid)
        else { return false }
        return exe == binary || exe == binary + " (deleted)"
    }
}
