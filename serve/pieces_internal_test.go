package serve

import (
	"context"
	"sync"
	"testing"
	"time"
)

// An expired piece is kept without a query while its data version is
// the one it was built from, built again when it changed, and always
// built again when the version is unknown.
func TestPieceKeptWhileItsDataIsUnchanged(t *testing.T) {
	const age = 30 * time.Millisecond
	var (
		mu      sync.Mutex
		version = "v1"
		builds  int
	)
	c := pieceCache[int]{max: 10, size: func(int) int { return 1 }}
	ver := func(context.Context, time.Time) string { mu.Lock(); defer mu.Unlock(); return version }
	build := func(context.Context) (int, error) { mu.Lock(); defer mu.Unlock(); builds++; return builds, nil }
	get := func() (int, string) {
		t.Helper()
		v, how, err := c.get(context.Background(), "k", age, time.Second, ver, build, func(err error) { t.Error(err) })
		if err != nil {
			t.Fatal(err)
		}
		return v, how
	}
	settle := func() { // past the max-age, then let the background refresh run
		time.Sleep(age + 10*time.Millisecond)
		get()
		time.Sleep(20 * time.Millisecond)
	}
	if v, how := get(); v != 1 || how != pieceMiss {
		t.Fatalf("first get: %d %s", v, how)
	}
	settle()
	if v, how := get(); v != 1 || how != pieceHit {
		t.Fatalf("after its max-age, data unchanged: %d %s, want 1 hit (kept, no build)", v, how)
	}
	mu.Lock()
	version = "v2"
	mu.Unlock()
	settle()
	if v, _ := get(); v != 2 {
		t.Fatalf("after the data changed: piece %d, want 2 (built again)", v)
	}
	mu.Lock()
	version = ""
	mu.Unlock()
	settle()
	settle()
	if v, _ := get(); v < 3 {
		t.Fatalf("version unknown: piece %d, want built again at every expiry", v)
	}
}
