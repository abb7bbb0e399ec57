package k8senv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The client uses only its own user's pool service (issue 25, item 1): a socket that another
// user planted above a repository, a .k8senv that is a symlink, or a service answering as
// another uid is refused before a request is sent.

// nobody is the uid (and gid) the tests give to another user's files and processes.
const nobody = 65534

// helperEnv makes the test binary the helper server of TestUntrustedPeerIsRefused (see TestMain).
const helperEnv = "K8SENV_GO_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "peer-server" {
		os.Exit(servePeerHelper())
	}
	os.Exit(m.Run())
}

// needRoot skips a test that must chown files or switch uids, unless in CI (CI=…), where the
// tests run as root and a skip would hide the test.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("this test needs root (to chown files to uid %d or run a process as it); CI runs the tests as root, but euid is %d", nobody, os.Geteuid())
	}
	t.Skipf("needs root: it chowns files to uid %d or runs a process as it (euid is %d)", nobody, os.Geteuid())
}

func chown(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.Lchown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

// wantUntrusted asserts err is an untrusted-socket error whose message has every one of want,
// and that the planted service p got no request.
func wantUntrusted(t *testing.T, err error, p *fakePool, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want the socket refused (%q)", want)
	}
	t.Logf("refused: %v", err)
	if !IsUntrustedSocket(err) || IsNoService(err) {
		t.Errorf("err = %v, want ErrUntrustedSocket", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v\nwant it to say %q", err, w)
		}
	}
	if p != nil {
		if reqs := p.recorded(); len(reqs) != 0 {
			t.Errorf("the planted service was sent %d request(s): %+v", len(reqs), reqs)
		}
	}
}

// A shared folder of another user above the repository (uid nobody made .k8senv/pool.sock
// there): the search stops at that folder and says why; nothing is sent to the planted service.
func TestUntrustedSocketInAnotherUsersFolderAboveTheRepository(t *testing.T) {
	needRoot(t)
	root := isolate(t)
	shared := mkdir(t, filepath.Join(root, "shared"), 0o777)
	state := mkdir(t, filepath.Join(shared, ".k8senv"), 0o700)
	p := startFakePool(t, filepath.Join(state, "pool.sock"), poolHandler)
	chown(t, p.sock, nobody)
	chown(t, state, nobody)
	chown(t, shared, nobody)
	repo := mkdir(t, filepath.Join(shared, "repo"), 0o755)
	chdir(t, repo)

	_, err := Connect()
	wantUntrusted(t, err, p,
		"stopped looking for .k8senv/pool.sock at "+shared+": owned by uid 65534, not you (uid 0)",
		"set K8SENV_POOL to use a pool there")
	_, err = Acquire(t, "capi")
	wantUntrusted(t, err, p, shared)
}

// The search does not look above a folder of another user, even for a socket of the user's own.
func TestSearchStopsAtAFolderOfAnotherUser(t *testing.T) {
	needRoot(t)
	root := isolate(t)
	p := startFakePool(t, filepath.Join(root, ".k8senv", "pool.sock"), poolHandler) // the user's own
	shared := mkdir(t, filepath.Join(root, "shared"), 0o777)
	chown(t, shared, nobody)
	repo := mkdir(t, filepath.Join(shared, "repo"), 0o755)
	chdir(t, repo)

	_, err := Connect()
	if !IsNoService(err) || IsUntrustedSocket(err) {
		t.Fatalf("err = %v, want ErrNoService", err)
	}
	t.Logf("not found: %v", err)
	for _, w := range []string{"no .k8senv/pool.sock in " + repo, "stopped looking for .k8senv/pool.sock at " + shared + ": owned by uid 65534, not you (uid 0)"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v\nwant it to say %q", err, w)
		}
	}

	chdir(t, shared) // the current folder itself is another user's: not even looked into
	_, err = Connect()
	if w := "K8SENV_POOL is not set; stopped looking for .k8senv/pool.sock at " + shared + ": owned by uid 65534"; !IsNoService(err) || !strings.Contains(err.Error(), w) {
		t.Errorf("err = %v\nwant ErrNoService saying %q", err, w)
	}
	if reqs := p.recorded(); len(reqs) != 0 {
		t.Errorf("the service above the other user's folder was sent %d request(s)", len(reqs))
	}
}

// The reproduction: a sticky shared folder (root's, mode 1777, like /tmp) where uid
// nobody made .k8senv/pool.sock above the repository.
func TestUntrustedStateFolderOfAnotherUserInAStickyFolder(t *testing.T) {
	needRoot(t)
	root := isolate(t)
	shared := mkdir(t, filepath.Join(root, "tmp"), 0o777|os.ModeSticky)
	state := mkdir(t, filepath.Join(shared, ".k8senv"), 0o700)
	p := startFakePool(t, filepath.Join(state, "pool.sock"), poolHandler)
	chown(t, p.sock, nobody)
	chown(t, state, nobody)
	chdir(t, mkdir(t, filepath.Join(shared, "repo"), 0o755))

	_, err := Connect()
	wantUntrusted(t, err, p, state+" is owned by uid 65534, not you (uid 0)")
}

// A socket of another user in the user's own .k8senv, found or named by K8SENV_POOL.
func TestUntrustedSocketOwnedByAnotherUser(t *testing.T) {
	needRoot(t)
	root := isolate(t)
	p := startFakePool(t, filepath.Join(root, ".k8senv", "pool.sock"), poolHandler)
	chown(t, p.sock, nobody)

	_, err := Connect()
	wantUntrusted(t, err, p, p.sock+" is owned by uid 65534, not you (uid 0)")

	t.Setenv(EnvSocket, p.sock)
	_, err = Connect()
	wantUntrusted(t, err, p, "K8SENV_POOL="+p.sock, p.sock+" is owned by uid 65534, not you (uid 0)")

	_, err = NewClient(p.sock).Status(context.Background()) // a path given in code: checked when dialing
	wantUntrusted(t, err, p, "GET /v1/status", p.sock+" is owned by uid 65534")
}

// K8SENV_POOL naming a socket in a folder of another user.
func TestUntrustedSocketFolderNamedByK8SENV_POOL(t *testing.T) {
	needRoot(t)
	isolate(t)
	dir := shortTempDir(t)
	p := startFakePool(t, filepath.Join(dir, "pool.sock"), poolHandler)
	chown(t, dir, nobody)
	t.Setenv(EnvSocket, p.sock)

	_, err := Connect()
	wantUntrusted(t, err, p, "K8SENV_POOL="+p.sock, dir+" is owned by uid 65534, not you (uid 0)")
}

// .k8senv as a symlink to a real folder with a socket: refused, found or named.
func TestUntrustedStateFolderSymlink(t *testing.T) {
	root := isolate(t)
	elsewhere := shortTempDir(t)
	p := startFakePool(t, filepath.Join(elsewhere, "pool.sock"), poolHandler)
	if err := os.Symlink(elsewhere, filepath.Join(root, ".k8senv")); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "a")
	mkdir(t, deep, 0o755)
	chdir(t, deep)

	link := filepath.Join(root, ".k8senv")
	_, err := Connect()
	wantUntrusted(t, err, p, link+" is a symlink")

	t.Setenv(EnvSocket, filepath.Join(link, "pool.sock"))
	_, err = Connect()
	wantUntrusted(t, err, p, link+" is a symlink")

	// The socket itself as a symlink to the real one.
	t.Setenv(EnvSocket, "")
	real := mkdir(t, filepath.Join(deep, ".k8senv"), 0o700)
	if err := os.Symlink(p.sock, filepath.Join(real, "pool.sock")); err != nil {
		t.Fatal(err)
	}
	_, err = Connect()
	wantUntrusted(t, err, p, filepath.Join(real, "pool.sock")+" is a symlink")
}

// A .k8senv that its group or others may write to: another user could swap the socket.
func TestUntrustedStateFolderWritableByOthers(t *testing.T) {
	root := isolate(t)
	p := startFakePool(t, filepath.Join(root, ".k8senv", "pool.sock"), poolHandler)
	state := filepath.Join(root, ".k8senv")
	if err := os.Chmod(state, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := Connect()
	wantUntrusted(t, err, p, state+" is writable by its group or others (mode 0777)")
}

// A socket file of the user's own, in a folder of the user's own, but answered by a process of
// another uid (the listening socket was passed to it): SO_PEERCRED tells, and the client
// closes the connection before sending anything.
func TestUntrustedPeerIsRefused(t *testing.T) {
	needRoot(t)
	sock := filepath.Join(shortTempDir(t), "pool.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	bound := os.NewFile(uintptr(fd), sock)
	defer bound.Close()

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=peer-server")
	cmd.ExtraFiles = []*os.File{bound} // fd 3: listened on by the helper, after it became nobody
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != fmt.Sprintf("listening as uid %d", nobody) {
		t.Fatalf("helper: %q %v, want it listening as uid %d", lines.Text(), lines.Err(), nobody)
	}

	st, err := os.Lstat(sock)
	if err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(os.Geteuid()) {
		t.Fatalf("the socket file should be the test user's: %v %v", st, err)
	}
	_, err = NewClient(sock).Acquire(context.Background(), AcquireOptions{Environment: "capi"})
	wantUntrusted(t, err, nil, "POST /v1/leases on "+sock, "the process answering on it", "runs as uid 65534, not you (uid 0)")

	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(out)
	if strings.Contains(string(rest), "request") {
		t.Errorf("the helper was sent a request: %s", rest)
	}
}

// servePeerHelper is the helper process of TestUntrustedPeerIsRefused: it becomes uid nobody,
// listens on the bound socket it was given as fd 3, and answers acquires with a grant,
// printing each request it reads.
func servePeerHelper() int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "peer helper:", err); return 1 }
	if err := syscall.Setgroups(nil); err != nil {
		return fail(err)
	}
	if err := syscall.Setgid(nobody); err != nil {
		return fail(err)
	}
	if err := syscall.Setuid(nobody); err != nil {
		return fail(err)
	}
	if err := syscall.Listen(3, 16); err != nil { // the peer credentials are the listener's
		return fail(err)
	}
	ln, err := net.FileListener(os.NewFile(3, "pool.sock"))
	if err != nil {
		return fail(err)
	}
	fmt.Printf("listening as uid %d\n", os.Getuid())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("request %s %s\n", r.Method, r.URL.Path)
		answer(w, http.StatusCreated, acquireAnswer)
	}), ReadHeaderTimeout: 10 * time.Second}
	srv.Serve(ln)
	return 0
}
