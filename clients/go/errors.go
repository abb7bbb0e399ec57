package k8senv

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoService is matched (errors.Is) by every error that means no service answers: no socket
// was found, or nothing accepts connections on the socket.
var ErrNoService = errors.New("no k8senv pool service is running (start one with `k8senv up --detach`)")

// ErrServiceGone is matched (errors.Is) by every error that means the service accepted the
// connection and closed it without an answer.
var ErrServiceGone = errors.New("the pool service is gone")

// ErrUntrustedSocket is matched (errors.Is) by every error that means a socket was refused
// because it is not provably the user's own pool service's: the socket or its folder is a
// symlink, belongs to another user or may be written by others; the search for
// .k8senv/pool.sock stopped at a folder of another user; or the process answering on the
// socket runs as another uid (SO_PEERCRED). Nothing was sent on such a socket.
var ErrUntrustedSocket = errors.New("untrusted socket (a k8senv client uses only its own user's pool service)")

// Error codes the service answers with (the "code" of an error body).
const (
	CodeBadRequest          = "bad-request"
	CodeForbidden           = "forbidden"
	CodeUnknownEnvironment  = "unknown-environment"
	CodeLeaseNotFound       = "lease-not-found"
	CodeNotFound            = "not-found"
	CodeEnvironmentRequired = "environment-required"
	CodeAcquireTimeout      = "acquire-timeout"
	CodeShutDown            = "shut-down"
	CodeInstanceFailed      = "instance-failed"

	// CodeUnexpectedAnswer is set by the client, not the service: an error status whose body
	// is not the protocol's {"error": {"code", "message"}}.
	CodeUnexpectedAnswer = "unexpected-answer"
)

// Error is an error answer of the service: {"error": {"code": …, "message": …}} with its
// HTTP status.
type Error struct {
	Code       string // e.g. CodeAcquireTimeout
	Message    string // the service's own words
	HTTPStatus int    // e.g. 503
	Op         string // the request, e.g. "POST /v1/leases"
	Socket     string // the socket it was sent on
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("k8senv pool")
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
	}
	fmt.Fprintf(&b, ": %s (%s, HTTP %d)", e.Message, e.Code, e.HTTPStatus)
	return b.String()
}

// ErrorCode is the service's error code of err (an *Error anywhere in its chain), or "".
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNoService reports whether err means no pool service is running (see ErrNoService).
func IsNoService(err error) bool { return errors.Is(err, ErrNoService) }

// IsServiceGone reports whether err means the service closed the connection without an
// answer (see ErrServiceGone).
func IsServiceGone(err error) bool { return errors.Is(err, ErrServiceGone) }

// IsUntrustedSocket reports whether err means a socket was refused as not the user's own
// pool service's (see ErrUntrustedSocket).
func IsUntrustedSocket(err error) bool { return errors.Is(err, ErrUntrustedSocket) }

// ConnError is a failure to get an answer from the service: what was asked (Op), on which
// socket, and why. errors.Is(err, ErrNoService) and errors.Is(err, ErrServiceGone) tell the two
// known cases by Kind; Unwrap gives the underlying error (a syscall error,
// context.DeadlineExceeded, …).
type ConnError struct {
	Op     string // e.g. "POST /v1/leases"; empty while discovering the socket
	Socket string // the socket's path, when known
	Kind   error  // ErrNoService, ErrServiceGone, or nil
	Detail string // more words, e.g. where the socket was looked for
	Err    error  // the underlying error, if any
}

func (e *ConnError) Error() string {
	parts := []string{"k8senv pool"}
	where := e.Op
	if e.Socket != "" {
		if where != "" {
			where += " "
		}
		where += "on " + e.Socket
	}
	if where != "" {
		parts = append(parts, where)
	}
	if e.Kind != nil {
		parts = append(parts, e.Kind.Error())
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Is matches the error's Kind (ErrNoService or ErrServiceGone).
func (e *ConnError) Is(target error) bool { return e.Kind != nil && target == e.Kind }

// Unwrap returns the underlying error.
func (e *ConnError) Unwrap() error { return e.Err }
