package k8senv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// A client uses only its own user's pool service: a grant is a kubeconfig, and a kubeconfig
// can make kubectl run a program (an exec plugin), so a socket another user planted would run
// that user's program as this one. Three checks, all without following a symlink:
//
//   - the socket and its folder (the .k8senv state folder, or K8SENV_POOL's folder) must be
//     the user's: the folder a real folder owned by the euid that neither its group nor others
//     may write to, the socket a real socket owned by the euid (checkSocket);
//   - the search for .k8senv/pool.sock walks up from the current folder only through folders
//     owned by the user or by root, and stops at a folder of another user without looking
//     into it, as git's safe.directory refuses a repository of another user (FindSocket);
//   - after connecting, the process answering must run as the user's euid (SO_PEERCRED,
//     checkPeer): this holds even if a folder is swapped between the checks and the connect.

// untrusted is the error of a refused socket.
func untrusted(socket, format string, args ...any) *ConnError {
	return &ConnError{Socket: socket, Kind: ErrUntrustedSocket, Detail: fmt.Sprintf(format, args...)}
}

// ownerUID is the owner of what fi describes.
func ownerUID(fi fs.FileInfo) int { return int(fi.Sys().(*syscall.Stat_t).Uid) }

func notYou(uid int) string {
	return fmt.Sprintf("owned by uid %d, not you (uid %d)", uid, os.Geteuid())
}

// checkSocket refuses a socket that is not provably the user's (see above): it returns nil for
// a socket of the user's own in a folder of the user's own, and also when the socket or its
// folder does not exist (connecting says so). A refusal names what is wrong and where.
func checkSocket(path string) *ConnError {
	for _, c := range []struct {
		path   string
		folder bool
	}{{filepath.Dir(path), true}, {path, false}} {
		reason, there := refusal(c.path, c.folder)
		if !there {
			return nil
		}
		if reason != "" {
			return untrusted(path, "%s", reason)
		}
	}
	return nil
}

// refusal says why path is not the user's — a real folder of the euid's that its group and
// others cannot write to (folder), else a real socket of the euid's —, "" when it is; there is
// false when nothing is at path.
func refusal(path string, folder bool) (reason string, there bool) {
	fi, err := os.Lstat(path)
	switch {
	case missing(err):
		return "", false
	case err != nil:
		return fmt.Sprintf("%s cannot be checked: %v", path, err), true
	case fi.Mode()&fs.ModeSymlink != 0:
		return path + " is a symlink", true
	case folder && !fi.IsDir():
		return path + " is not a folder", true
	case !folder && fi.Mode().Type() != fs.ModeSocket:
		return fmt.Sprintf("%s is not a socket (%s)", path, fileKind(fi)), true
	case ownerUID(fi) != os.Geteuid():
		return path + " is " + notYou(ownerUID(fi)), true
	case folder && fi.Mode().Perm()&0o022 != 0:
		return fmt.Sprintf("%s is writable by its group or others (mode %04o)", path, fi.Mode().Perm()), true
	}
	return "", true
}

func fileKind(fi fs.FileInfo) string {
	switch t := fi.Mode().Type(); {
	case t == 0:
		return "a regular file"
	case t&fs.ModeDir != 0:
		return "a folder"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeDevice != 0:
		return "a device"
	default:
		return "mode " + fi.Mode().String()
	}
}

// FindSocket returns the pool service's socket: K8SENV_POOL when set and not empty, else the
// first .k8senv/pool.sock found in the current folder (its physical path) and each parent
// folder, walking up while a folder is owned by the user or by root and stopping at a folder
// of another user (without looking into it). Either way the socket must be the user's (see
// checkSocket): a refused socket is an error matching ErrUntrustedSocket; no socket is one
// matching ErrNoService. FindSocket does not dial.
func FindSocket() (string, error) {
	if p := os.Getenv(EnvSocket); p != "" {
		if e := checkSocket(p); e != nil {
			e.Detail = EnvSocket + "=" + p + ": " + e.Detail
			return "", e
		}
		return p, nil
	}
	dir, err := syscall.Getwd() // the physical path, as the kernel has it
	if err != nil {
		return "", &ConnError{Kind: ErrNoService, Detail: EnvSocket + " is not set and the current folder is unknown", Err: err}
	}
	euid := os.Geteuid()
	looked := ""
	for d := dir; ; {
		fi, err := os.Lstat(d)
		if err != nil {
			return "", &ConnError{Kind: ErrNoService, Detail: fmt.Sprintf("%s is not set and looking for .k8senv/pool.sock in %s failed", EnvSocket, d), Err: err}
		}
		if uid := ownerUID(fi); uid != euid && uid != 0 {
			stop := fmt.Sprintf("stopped looking for .k8senv/pool.sock at %s: %s; set %s to use a pool there", d, notYou(uid), EnvSocket)
			if p := filepath.Join(d, ".k8senv", "pool.sock"); exists(p) {
				return "", untrusted(p, "%s", stop)
			}
			detail := EnvSocket + " is not set"
			if looked != "" {
				detail += " and there is no .k8senv/pool.sock in " + dir
				if looked != dir {
					detail += " or the folders above it up to " + looked
				}
			}
			return "", &ConnError{Kind: ErrNoService, Detail: detail + "; " + stop}
		}
		if p := filepath.Join(d, ".k8senv", "pool.sock"); exists(p) {
			if e := checkSocket(p); e != nil {
				return "", e
			}
			return p, nil
		}
		looked = d
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", &ConnError{
		Kind:   ErrNoService,
		Detail: fmt.Sprintf("%s is not set and there is no .k8senv/pool.sock in %s or any folder above it", EnvSocket, dir),
	}
}

// exists reports whether something is at path (itself, not what a symlink there points to);
// an error other than a missing file counts as something, for checkSocket to report.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !missing(err)
}

// missing reports whether err (of an lstat) says nothing is there: no such file, or a path
// component that is not a folder.
func missing(err error) bool {
	return err != nil && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR))
}
