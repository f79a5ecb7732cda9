package chtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trucewatch/trucewatch/storage/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

func version(t *testing.T, addr string) string {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Protocol: clickhouse.Native})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestShared(t *testing.T) {
	a := chtest.Shared(t)
	b := chtest.Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	if v := version(t, a.Addr()); v == "" {
		t.Fatal("empty version")
	}
	if chtest.Database(t) == chtest.Database(t) {
		t.Fatal("Database names repeat")
	}
}

func TestStopStart(t *testing.T) {
	srv := chtest.New(t)
	addr := srv.Addr()
	v := version(t, addr)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if srv.Running() {
		t.Fatal("running after Stop")
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != addr {
		t.Fatalf("addr changed: %s -> %s", addr, srv.Addr())
	}
	if got := version(t, addr); got != v {
		t.Fatalf("version %q after restart, want %q", got, v)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	version(t, addr)
}
