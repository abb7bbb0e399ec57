import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Testing

/// The processes that have the socket `inode` open.
func holders(of inode: String) -> [String] {
    var found: [String] = []
    for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"))
                == "socket:[\(inode)]"
            {
                let command =
                    (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?
                    .replacingOccurrences(of: "\0", with: " ").prefix(120) ?? ""
                found.append("\(pid) (self: \(getpid())) fd \(fd): \(command)")
            }
        }
    }
    return found
}

func listeningInode(port: Int) -> String? { Sockets.listeningInode(port: port) }
