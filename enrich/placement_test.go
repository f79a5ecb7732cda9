package enrich

import (
	"math"
	"testing"

	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage/read"
)

// TestPlacementFollowsUncertainty: the zoom up to which storage/read counts
// a precision in tiles is the last one whose tiles, at the equator, are as
// wide as the diameter of the circle report's uncertainty radius implies;
// its list of precisions is schema v1's.
func TestPlacementFollowsUncertainty(t *testing.T) {
	const equator = 40_075_016.686 // metres
	var names []string
	for _, p := range report.GeoPrecisions() {
		names = append(names, string(p))
		r := p.UncertaintyM()
		want := uint32(32)
		if r > 0 {
			want = uint32(math.Floor(math.Log2(equator / (2 * r))))
		}
		if got := read.MaxZoom(string(p)); got != want {
			t.Errorf("%s (%.0f m): MaxZoom %d, want %d", p, r, got, want)
		}
	}
	if len(names) != len(read.Precisions) {
		t.Fatalf("read.Precisions %v, schema v1 %v", read.Precisions, names)
	}
	for i := range names {
		if names[i] != read.Precisions[i] {
			t.Fatalf("read.Precisions %v, schema v1 %v", read.Precisions, names)
		}
	}
}
