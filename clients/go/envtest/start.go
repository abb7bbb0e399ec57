package envtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	k8senv "github.com/k8senv/k8senv/clients/go"
)

// ConfigFileName is the config file Start looks for when it starts a pool service.
const ConfigFileName = "k8senv.yaml"

// startService starts the pool service of the config file (configFile, else the nearest
// k8senv.yaml) with `k8senv up --detach`, unless another process started it meanwhile, and
// returns a client of its socket (.k8senv/pool.sock next to the config, up's default state
// folder). Test binaries of several packages may get here at once: they take a lock per config
// file in turn, and all but the first find the service running.
func startService(configFile string) (*k8senv.Client, error) {
	config, err := findConfig(configFile)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(config)
	unlock, err := lockStart(config)
	if err != nil {
		return nil, err
	}
	defer unlock()

	c := k8senv.NewClient(filepath.Join(dir, ".k8senv", "pool.sock"))
	if err := ping(c); err == nil || !k8senv.IsNoService(err) {
		return c, err // running (another test binary started it), or not the user's
	}
	fmt.Fprintf(os.Stderr, "k8senv envtest: no k8senv pool service is running; starting one with `k8senv up --detach -f %s` (it keeps running for the next test run; stop it with `k8senv down -f %s`)\n", config, config)
	if err := runUp(config); err != nil {
		return nil, err
	}
	if err := ping(c); err != nil {
		return nil, &startError{msg: fmt.Sprintf("no k8senv pool service is running: `k8senv up --detach -f %s` succeeded but its service does not answer on %s", config, c.SocketPath()), err: err}
	}
	return c, nil
}

func ping(c *k8senv.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Status(ctx)
	return err
}

// runUp runs `k8senv up --detach --quiet -f config` in the config's folder. Its output goes to
// files, not pipes: the supervisor it leaves running must not hold a pipe of ours open.
func runUp(config string) error {
	out, err := os.CreateTemp("", "k8senv-envtest-up-*.log")
	if err != nil {
		return &startError{msg: "no k8senv pool service is running and envtest could not start one", err: err}
	}
	defer os.Remove(out.Name())
	defer out.Close()
	args := []string{"up", "--detach", "--quiet", "-f", config}
	cmd := exec.Command("k8senv", args...)
	cmd.Dir = filepath.Dir(config)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return &startError{msg: fmt.Sprintf("no k8senv pool service is running and `k8senv %s` (in %s) failed: %v%s",
			strings.Join(args, " "), cmd.Dir, err, outputTail(out.Name()))}
	}
	return nil
}

// outputTail is the last lines of the file at path, indented, for an error message.
func outputTail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(data))) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "; its output:\n  " + strings.Join(lines, "\n  ")
}

// findConfig is configFile (made absolute), else the nearest k8senv.yaml in the current folder
// (its physical path) or above it, looking no higher than the repository's root (a folder with
// .git) and through folders owned by the user or root only. The file must be a regular file
// owned by the user: `k8senv up` runs the binaries a config names.
func findConfig(configFile string) (string, error) {
	if configFile != "" {
		p, err := filepath.Abs(configFile)
		if err != nil {
			return "", &startError{msg: "no k8senv pool service is running and envtest cannot start one for ConfigFile " + configFile, err: err}
		}
		return p, checkConfig(p)
	}
	cwd, err := syscall.Getwd()
	if err != nil {
		return "", &startError{msg: "no k8senv pool service is running and the current folder, where envtest looks for " + ConfigFileName + ", is unknown", err: err}
	}
	euid := os.Geteuid()
	for d := cwd; ; d = filepath.Dir(d) {
		fi, err := os.Lstat(d)
		if err != nil {
			return "", &startError{msg: "no k8senv pool service is running and looking for " + ConfigFileName + " in " + d + " failed", err: err}
		}
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != euid && uid != 0 {
			return "", &startError{msg: fmt.Sprintf("no k8senv pool service is running and there is no %s in %s or above it up to %s, where envtest stopped looking (a folder owned by uid %d, not you); set Environment.ConfigFile, or start a service with `k8senv up --detach`", ConfigFileName, cwd, d, uid)}
		}
		p := filepath.Join(d, ConfigFileName)
		if _, err := os.Lstat(p); err == nil {
			return p, checkConfig(p)
		}
		_, gitErr := os.Lstat(filepath.Join(d, ".git"))
		if gitErr == nil || d == filepath.Dir(d) {
			return "", &startError{msg: fmt.Sprintf("no k8senv pool service is running and there is no %s in %s or above it up to %s to start one for (`k8senv init` writes one; Environment.ConfigFile names one elsewhere)", ConfigFileName, cwd, d)}
		}
	}
}

// checkConfig refuses a config file that is not a regular file of the user's.
func checkConfig(p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return &startError{msg: "no k8senv pool service is running and envtest cannot start one for " + p, err: err}
	}
	if !fi.Mode().IsRegular() {
		return &startError{msg: fmt.Sprintf("no k8senv pool service is running and envtest does not start one for %s: it is not a regular file (%s)", p, fi.Mode().Type())}
	}
	if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != os.Geteuid() {
		return &startError{msg: fmt.Sprintf("no k8senv pool service is running and envtest does not start one for %s: it is owned by uid %d, not you (uid %d), and k8senv up runs the programs a config names", p, uid, os.Geteuid())}
	}
	return nil
}

// lockStart takes an exclusive lock for starting the service of config: a file per config in
// the user's cache folder (0700 folder, 0600 file, neither a symlink, both the user's).
func lockStart(config string) (func(), error) {
	fail := func(err error) (func(), error) {
		return nil, &startError{msg: "no k8senv pool service is running and envtest could not take its lock for starting one", err: err}
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return fail(err)
	}
	dir := filepath.Join(base, "k8senv", "envtest")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	if fi, err := os.Lstat(dir); err != nil {
		return fail(err)
	} else if !fi.IsDir() || int(fi.Sys().(*syscall.Stat_t).Uid) != os.Geteuid() || fi.Mode().Perm()&0o022 != 0 {
		return fail(fmt.Errorf("%s is not a folder of yours that only you may write to", dir))
	}
	sum := sha256.Sum256([]byte(config))
	path := filepath.Join(dir, hex.EncodeToString(sum[:8])+".lock")
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CREAT|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", path, err))
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil || int(st.Uid) != os.Geteuid() {
		syscall.Close(fd)
		return fail(fmt.Errorf("%s is not a file of yours", path))
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		syscall.Close(fd)
		return fail(fmt.Errorf("flock %s: %w", path, err))
	}
	return func() { syscall.Close(fd) }, nil
}
