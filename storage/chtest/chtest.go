// Package chtest starts real ClickHouse servers for tests, like ch-go's
// cht: the clickhouse-server binary runs on free ports in a temporary
// directory and is stopped when the test (or the package's tests) end.
//
// One server per test:
//
//	srv := chtest.New(t)
//	store := chtest.Open(t, srv, storage.Options{})
//
// One server shared by a package's tests (start-up costs about a second),
// each test in a database of its own:
//
//	func TestMain(m *testing.M) { chtest.Main(m) }
//	func TestX(t *testing.T) { store := chtest.Store(t); ... }
//
// A missing binary fails the test with a message saying to run `make test`
// (which installs it); tests are never skipped silently.
package chtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chserver"
)

// Server is a running test server; see chserver.Server for Stop, Start,
// Kill (restart on the same data and ports, for outage tests).
type Server = chserver.Server

// New starts a server of its own for t, in t.TempDir(), stopped in
// t.Cleanup.
func New(t testing.TB) *Server {
	t.Helper()
	srv, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func start(dir string) (*Server, error) {
	if _, err := chserver.FindBinary(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return chserver.Start(ctx, chserver.Options{Dir: dir})
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	dir string
	err error
}

// Shared returns the package's shared server, starting it on first use.
// The package must call Main from TestMain so that it is stopped. Tests
// sharing it must not Stop it; use New for outage tests.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "chtest-")
		if err != nil {
			shared.err = err
		} else {
			shared.dir = dir
			shared.srv, shared.err = start(dir)
		}
	}
	if shared.err != nil {
		t.Fatalf("chtest: shared server: %v", shared.err)
	}
	if !shared.srv.Running() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := shared.srv.Start(ctx); err != nil {
			t.Fatalf("chtest: restart shared server: %v", err)
		}
	}
	return shared.srv
}

// Main runs the package's tests, then stops the shared server (if one was
// started) and removes its directory, checks that no goroutine outlived
// them (goleak), and exits. Call it from TestMain.
func Main(m *testing.M, opts ...goleak.Option) { os.Exit(Leaks(Run(m), opts...)) }

// MainAfter is Main that calls after once the tests and the shared server
// are done and before it looks for leaks: to close what outlives the tests
// by design, such as a client library's shared idle connections.
func MainAfter(m *testing.M, after func(), opts ...goleak.Option) {
	code := Run(m)
	after()
	os.Exit(Leaks(code, opts...))
}

// Leaks is the exit code of tests that ended with code: 1 if they passed
// but left goroutines running (goleak), else code.
func Leaks(code int, opts ...goleak.Option) int {
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			return 1
		}
	}
	return code
}

// Run is Main without the exit: it returns m.Run's code, for a TestMain
// that checks more (goleak) after the shared server is gone.
func Run(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	if shared.srv != nil {
		shared.srv.Close()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.srv, shared.dir, shared.err = nil, "", nil
	shared.mu.Unlock()
	return code
}

var dbSeq atomic.Int64

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// Database returns a database name unique within the process, derived from
// the test name, so tests sharing a server do not see each other's tables.
func Database(t testing.TB) string {
	name := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
}

// Store opens a migrated store in a database of its own on the shared
// server, closed in t.Cleanup.
func Store(t testing.TB) *storage.Store {
	t.Helper()
	return Open(t, Shared(t), storage.Options{})
}

// Open opens a store on srv with o (Addr set to srv's; Database, when
// empty, one of t's own, see Database), applies the migrations and closes
// the store in t.Cleanup.
func Open(t testing.TB, srv *Server, o storage.Options) *storage.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o.Addr = srv.Addr()
	if o.Database == "" {
		o.Database = Database(t)
	}
	s, err := storage.Open(ctx, o)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return s
}

// Figures runs each query, with the store's database for its %s, and
// returns its rows by their first column, a string; the other columns are
// the figures (as many as V holds), and rows whose figures are all zero are
// left out.
func Figures[V ~[2]int64 | ~[3]int64](t testing.TB, ctx context.Context, s *storage.Store, queries ...string) map[string]V {
	t.Helper()
	out := map[string]V{}
	for _, q := range queries {
		rows, err := s.Conn().Query(ctx, fmt.Sprintf(q, s.Database()))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			var v, zero V
			dest := []any{&k}
			for i := 0; i < len(v); i++ {
				dest = append(dest, &v[i])
			}
			if err := rows.Scan(dest...); err != nil {
				t.Fatal(err)
			}
			if v != zero {
				out[k] = v
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return out
}
