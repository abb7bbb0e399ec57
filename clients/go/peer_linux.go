package k8senv

import (
	"net"
	"os"
	"syscall"
)

// checkPeer refuses a connection whose other end, the process that listens on the socket,
// runs as another uid than the client's euid (SO_PEERCRED).
func checkPeer(conn *net.UnixConn, socket string) *ConnError {
	raw, err := conn.SyscallConn()
	if err != nil {
		return untrusted(socket, "the user of the process answering on it cannot be checked: %v", err)
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		credErr = err
	}
	if credErr != nil {
		return untrusted(socket, "the user of the process answering on it cannot be checked (SO_PEERCRED): %v", credErr)
	}
	if euid := os.Geteuid(); int(cred.Uid) != euid {
		return untrusted(socket, "the process answering on it (pid %d) runs as uid %d, not you (uid %d)", cred.Pid, cred.Uid, euid)
	}
	return nil
}
