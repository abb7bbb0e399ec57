//go:build !linux

package k8senv

import "net"

// checkPeer refuses every connection where SO_PEERCRED does not exist: the pool service runs on
// Linux only, and the client cannot tell who answers elsewhere.
func checkPeer(conn *net.UnixConn, socket string) *ConnError {
	return untrusted(socket, "the user of the process answering on it cannot be checked on this system (SO_PEERCRED is Linux's)")
}
