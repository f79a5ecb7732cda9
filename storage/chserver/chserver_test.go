package chserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/trucewatch/trucewatch/storage/chserver"
)

// Launch keeps its data across launches of the same directory, as
// `trucewatch demo` relies on.
func TestLaunchKeepsData(t *testing.T) {
	if _, err := chserver.FindBinary(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	exec := func(srv *chserver.Server, q string, dst ...any) {
		t.Helper()
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{srv.Addr()}})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if len(dst) == 0 {
			err = conn.Exec(ctx, q)
		} else {
			err = conn.QueryRow(ctx, q).Scan(dst...)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	srv, err := chserver.Launch(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec(srv, "CREATE TABLE default.kept (x UInt8) ENGINE = MergeTree ORDER BY x")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	srv, err = chserver.Launch(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var n uint64
	exec(srv, "SELECT count() FROM system.tables WHERE database = 'default' AND name = 'kept'", &n)
	if n != 1 {
		t.Fatal("table lost across launches")
	}
	if srv.Version() == "" {
		t.Fatal("no version")
	}
}
