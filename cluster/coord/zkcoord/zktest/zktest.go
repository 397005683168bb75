// Package zktest runs a private ZooKeeper server for tests: a standalone
// server on a free loopback port with its data in a temporary directory,
// started from the jars of the Debian package "zookeeper" (or those named
// by TANDEM_ZOOKEEPER_CLASSPATH) with the java on the PATH.
//
// Tests never use a shared server: each test binary starts its own and
// kills it when done.
package zktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrNotInstalled is returned by Start when java or the ZooKeeper jars are
// missing; tests skip on it unless TANDEM_REQUIRE_SERVICES=1.
var ErrNotInstalled = errors.New("zktest: ZooKeeper is not installed (apt-get install zookeeper, or set TANDEM_ZOOKEEPER_CLASSPATH)")

// jarDirs are searched for zookeeper.jar. Debian's jar names its
// dependencies in its manifest's Class-Path; other layouts (a ZooKeeper
// tarball's lib directory) need every jar of the directory.
var jarDirs = []string{"/usr/share/java", "/usr/share/zookeeper/lib", "/opt/zookeeper/lib"}

// ClassPath returns the class path of the ZooKeeper server: the value of
// TANDEM_ZOOKEEPER_CLASSPATH if set, else the first of jarDirs that has the
// server jar.
func ClassPath() (string, error) {
	if cp := os.Getenv("TANDEM_ZOOKEEPER_CLASSPATH"); cp != "" {
		return cp, nil
	}
	for _, dir := range jarDirs {
		jar := filepath.Join(dir, "zookeeper.jar")
		if _, err := os.Stat(jar); err == nil {
			cp := jar
			// A logger, so that the server log says why it failed.
			if _, err := os.Stat(filepath.Join(dir, "slf4j-simple.jar")); err == nil {
				cp += string(os.PathListSeparator) + filepath.Join(dir, "slf4j-simple.jar")
			}
			return cp, nil
		}
		jars, _ := filepath.Glob(filepath.Join(dir, "zookeeper-3*.jar"))
		if len(jars) > 0 {
			return filepath.Join(dir, "*"), nil
		}
	}
	return "", ErrNotInstalled
}

// Options configure a server. The zero value is usable.
type Options struct {
	// TickTime is ZooKeeper's basic time unit; sessions may last from 2
	// to 20 ticks. Default 200ms, so that tests can use short sessions.
	TickTime time.Duration
}

// Server is a running standalone ZooKeeper server.
type Server struct {
	addr string
	dir  string
	cp   string
	java string
	tick time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	logf *os.File
}

// Start starts a server with its data and log in dir (which must exist)
// and waits until it serves clients or ctx ends.
func Start(ctx context.Context, dir string, opts Options) (*Server, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	cp, err := ClassPath()
	if err != nil {
		return nil, err
	}
	tick := opts.TickTime
	if tick <= 0 {
		tick = 200 * time.Millisecond
	}
	s := &Server{dir: dir, cp: cp, java: java, tick: tick}
	// The free port is found by listening on it and closing it again, so
	// another process may take it before the server binds: try again.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = s.start(ctx)
		if err == nil {
			return s, nil
		}
		if attempt == 2 || ctx.Err() != nil {
			return nil, err
		}
	}
}

// Addr is the server's client address, host:port on the loopback.
func (s *Server) Addr() string { return s.addr }

// Log returns the last lines of the server's log.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func (s *Server) start(ctx context.Context) error {
	_, port, _ := net.SplitHostPort(s.addr)
	data := filepath.Join(s.dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	cfg := strings.Join([]string{
		"tickTime=" + strconv.FormatInt(s.tick.Milliseconds(), 10),
		"dataDir=" + data,
		"clientPort=" + port,
		"clientPortAddress=127.0.0.1",
		"maxClientCnxns=0",
		"admin.enableServer=false",
		"4lw.commands.whitelist=srvr",
		"",
	}, "\n")
	cfgPath := filepath.Join(s.dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	// Small heap and quick start: the machine is shared. forceSync off:
	// a test server need not survive a power loss.
	cmd := exec.Command(s.java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Djava.awt.headless=true", "-Dzookeeper.admin.enableServer=false", "-Dzookeeper.forceSync=no",
		"-cp", s.cp, "org.apache.zookeeper.server.ZooKeeperServerMain", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("zktest: start java: %w", err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done, s.logf = cmd, done, logf
	s.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		if serving(s.addr) {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("zktest: server on %s exited at start (%v); log:\n%s", s.addr, cmd.ProcessState, s.Log())
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("zktest: waiting for the server on %s: %w", s.addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("zktest: server on %s not serving after 30s; log:\n%s", s.addr, s.Log())
		}
	}
}

// serving asks the server at addr for its status ("srvr") and reports
// whether it serves clients.
func serving(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Mode:") {
			return true
		}
	}
	return false
}

// Stop kills the server and waits for it to exit. The data directory is
// kept, so Restart brings the same state back.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart stops the server and starts it again on the same port with the
// same data, as a crashed and restarted server would be.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	var err error
	// The port can stay busy for a moment after the kill.
	for range 20 {
		if err = s.start(ctx); err == nil || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("zktest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Shared is a server started on first use and shared by a test binary's
// tests, which isolate themselves under their own root znodes. The zero
// value is ready; call Stop from TestMain after m.Run.
type Shared struct {
	Options Options

	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Server returns the shared server, starting it if needed. If ZooKeeper is
// not installed the test is skipped, or fails when
// TANDEM_REQUIRE_SERVICES=1; if it does not start the test fails.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() {
		sh.dir, sh.err = os.MkdirTemp("", "zktest-")
		if sh.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		sh.srv, sh.err = Start(ctx, sh.dir, sh.Options)
	})
	if errors.Is(sh.err, ErrNotInstalled) {
		if os.Getenv("TANDEM_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%v and TANDEM_REQUIRE_SERVICES=1", sh.err)
		}
		t.Skip(sh.err)
	}
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	return sh.srv
}

// Stop stops the shared server, if it was started, and removes its files.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
	if sh.dir != "" {
		os.RemoveAll(sh.dir)
	}
}
