package storage_test

import (
	"context"
	"testing"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// Reads marked bulk run behind the others: a higher priority number.
// (serve's TestBulkLane runs such queries on a real server.)
func TestReadPriority(t *testing.T) {
	ctx := context.Background()
	inter, bulk := storage.ReadSettings(ctx)["priority"], storage.ReadSettings(read.Bulk(ctx))["priority"]
	if inter != 1 || bulk != 2 {
		t.Fatalf("priority: interactive %v, bulk %v; want 1 and 2 (0 would mean none)", inter, bulk)
	}
}
