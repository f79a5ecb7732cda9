// Package chserver runs a local clickhouse-server process from its binary:
// its own minimal configuration, data directory and free ports, no system
// service. It backs both the test harness (storage/chtest) and
// `trucewatch demo` (data under ./var/clickhouse).
package chserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrNoBinary means no clickhouse-server binary was found.
var ErrNoBinary = errors.New("chserver: clickhouse-server binary not found (run `make test`, which installs it)")

// Defaults.
const (
	DefaultStartTimeout = 30 * time.Second
	DefaultStopTimeout  = 15 * time.Second
)

// Options configure a server. The zero value works: the binary is looked up
// on PATH and in /usr/sbin and /usr/bin, ports are picked free.
type Options struct {
	// Dir holds data, logs and the generated configuration. Required.
	Dir string
	// Binary is the clickhouse-server (or multi-call clickhouse) executable.
	Binary string
	// TCPPort is the native protocol port; 0 picks a free one on first start.
	TCPPort int
	// Logger receives start/stop events; nil discards them.
	Logger       *slog.Logger
	StartTimeout time.Duration // default DefaultStartTimeout
	StopTimeout  time.Duration // default DefaultStopTimeout
}

// Server is one clickhouse-server process. Stop and Start restart it on the
// same data directory and ports.
type Server struct {
	opt     Options
	bin     []string // executable and leading args ("server" for multi-call)
	ports   [3]int   // tcp, http, interserver
	log     *slog.Logger
	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	version string
}

// Launch starts a server with data under dir (created if missing) and waits
// until it answers queries. Close stops it; the data stays.
func Launch(ctx context.Context, dir string, log *slog.Logger) (*Server, error) {
	return Start(ctx, Options{Dir: dir, Logger: log})
}

// Start launches a server with the given options and waits until it answers.
func Start(ctx context.Context, opt Options) (*Server, error) {
	if opt.Dir == "" {
		return nil, errors.New("chserver: Options.Dir is required")
	}
	if opt.StartTimeout <= 0 {
		opt.StartTimeout = DefaultStartTimeout
	}
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = DefaultStopTimeout
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	bin, err := findBinary(opt.Binary)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("chserver: %w", err)
	}
	opt.Dir = dir
	s := &Server{opt: opt, bin: bin, log: opt.Logger}
	// A port picked free can be taken before the server binds it: retry
	// with fresh ports unless the caller fixed the native port.
	for attempt := 0; ; attempt++ {
		if err = s.pickPorts(); err != nil {
			return nil, err
		}
		if err = s.writeConfig(); err != nil {
			return nil, err
		}
		err = s.Start(ctx)
		if err == nil || attempt == 2 || opt.TCPPort != 0 || ctx.Err() != nil {
			break
		}
		s.log.Warn("clickhouse-server failed to start, retrying on other ports", "err", err)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// FindBinary reports the clickhouse-server executable that would be used,
// or ErrNoBinary.
func FindBinary() (string, error) {
	b, err := findBinary("")
	if err != nil {
		return "", err
	}
	return b[0], nil
}

func findBinary(explicit string) ([]string, error) {
	if explicit != "" {
		if filepath.Base(explicit) == "clickhouse" {
			return []string{explicit, "server"}, nil
		}
		return []string{explicit}, nil
	}
	if p, err := exec.LookPath("clickhouse-server"); err == nil {
		return []string{p}, nil
	}
	for _, p := range []string{"/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return []string{p}, nil
		}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, ErrNoBinary
}

func (s *Server) pickPorts() error {
	for i := range s.ports {
		if i == 0 && s.opt.TCPPort != 0 {
			s.ports[0] = s.opt.TCPPort
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("chserver: pick port: %w", err)
		}
		s.ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	return nil
}

// MergeTreeConfig is the <merge_tree> section every server started here
// gets, and the one a production server should get too (deploy/clickhouse/
// config.d/trucewatch.xml holds the same settings). A merge leaves the parts
// it merged on disk, inactive, for old_parts_lifetime (480 s by default, so
// that a merged part not yet flushed by the kernel can be rebuilt after a
// power loss). Under a continuous feed that wait, not the active parts,
// made the disk hold tens of thousands of parts: 45 s is still above the
// kernel's default dirty-page expiry and flusher wake-up (30 + 5 s), and
// the cleanup runs every 5 s instead of 30 (at 60 s and 10 s the soak's
// first minute took 1,057 bytes per report, over its target of 1,000).
const MergeTreeConfig = `    <merge_tree>
        <old_parts_lifetime>45</old_parts_lifetime>
        <cleanup_delay_period>5</cleanup_delay_period>
    </merge_tree>
`

// writeConfig writes a self-contained configuration: no include of the
// system config, so nothing there (extra ports, paths) can collide. The
// <yandex> root is read by 18.x and by current releases alike.
func (s *Server) writeConfig() error {
	d := s.opt.Dir
	for _, sub := range []string{"", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o755); err != nil {
			return fmt.Errorf("chserver: %w", err)
		}
	}
	cfg := fmt.Sprintf(`<?xml version="1.0"?>
<!-- generated by trucewatch storage/chserver; rewritten on every launch -->
<yandex>
    <logger>
        <level>warning</level>
        <log>%[1]s/log/clickhouse-server.log</log>
        <errorlog>%[1]s/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>%[2]d</tcp_port>
    <http_port>%[3]d</http_port>
    <interserver_http_port>%[4]d</interserver_http_port>
    <path>%[1]s/</path>
    <tmp_path>%[1]s/tmp/</tmp_path>
    <user_files_path>%[1]s/user_files/</user_files_path>
    <format_schema_path>%[1]s/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>
    <timezone>UTC</timezone>
    <shutdown_wait_unfinished>2</shutdown_wait_unfinished>
%[5]s</yandex>
`, d, s.ports[0], s.ports[1], s.ports[2], MergeTreeConfig)
	users := `<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <!-- an idle connection notices shutdown after poll_interval
                 seconds (default 10): keep stops quick -->
            <poll_interval>1</poll_interval>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`
	if err := os.WriteFile(filepath.Join(d, "config.xml"), []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d, "users.xml"), []byte(users), 0o644); err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	return nil
}

// Addr is the native protocol address, host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports[0]))
}

// Dir is the data directory.
func (s *Server) Dir() string { return s.opt.Dir }

// Version is the server version, as reported by SELECT version().
func (s *Server) Version() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version
}

// Running reports whether the process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Start (re)starts a stopped server on the same directory and ports and
// waits until it answers. It is a no-op if the server is running.
func (s *Server) Start(ctx context.Context) error {
	if s.Running() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	args := append(append([]string{}, s.bin[1:]...), "--config-file="+filepath.Join(s.opt.Dir, "config.xml"))
	cmd := exec.Command(s.bin[0], args...)
	cmd.Dir = s.opt.Dir
	out, err := os.OpenFile(filepath.Join(s.opt.Dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chserver: %w", err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	// The server dies with us (test binary killed, demo interrupted twice).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("chserver: start %s: %w", s.bin[0], err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		out.Close()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	s.log.Info("clickhouse-server starting", "pid", cmd.Process.Pid, "addr", s.Addr(), "dir", s.opt.Dir)

	ctx, cancel := context.WithTimeout(ctx, s.opt.StartTimeout)
	defer cancel()
	v, err := s.waitReady(ctx, exited)
	if err != nil {
		s.kill()
		return fmt.Errorf("chserver: server at %s did not become ready: %w%s", s.Addr(), err, s.logTail())
	}
	s.version = v
	s.log.Info("clickhouse-server ready", "addr", s.Addr(), "version", v)
	return nil
}

func (s *Server) waitReady(ctx context.Context, exited chan struct{}) (string, error) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var last error
	for {
		select {
		case <-exited:
			return "", errors.New("process exited")
		case <-ctx.Done():
			return "", errors.Join(ctx.Err(), last)
		case <-t.C:
		}
		v, err := s.query(ctx)
		if err == nil {
			return v, nil
		}
		last = err
	}
}

func (s *Server) query(ctx context.Context) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	c.Close()
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{s.Addr()},
		Protocol:    clickhouse.Native,
		DialTimeout: 2 * time.Second,
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var v string
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := conn.QueryRow(qctx, "SELECT version()").Scan(&v); err != nil {
		return "", err
	}
	return v, nil
}

// logTail returns the end of the error log, to explain a failed start.
func (s *Server) logTail() string {
	var b []byte
	for _, f := range []string{"clickhouse-server.err.log", "stdout.log"} {
		data, err := os.ReadFile(filepath.Join(s.opt.Dir, "log", f))
		if err == nil && len(data) > 0 {
			b = data
			break
		}
	}
	if len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n--- clickhouse-server log tail ---\n" + string(bytes.TrimSpace(b))
}

// Stop stops the server gracefully (SIGTERM, then SIGKILL after
// StopTimeout) and waits for the process to exit. Data and ports stay, so
// Start brings the same server back.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	select {
	case <-s.exited:
		s.cmd = nil
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(s.opt.StopTimeout):
		s.log.Warn("clickhouse-server did not stop in time, killing", "pid", s.cmd.Process.Pid)
		s.kill()
	}
	s.log.Info("clickhouse-server stopped", "addr", s.Addr())
	s.cmd = nil
	return nil
}

// Kill stops the server with SIGKILL, as a crash would, and waits for it.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	s.kill()
	s.cmd = nil
	return nil
}

// kill sends SIGKILL and waits; s.mu is held.
func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Close stops the server. The data directory is left in place.
func (s *Server) Close() error { return s.Stop() }

var _ io.Closer = (*Server)(nil)
