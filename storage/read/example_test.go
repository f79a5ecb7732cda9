package read_test

import (
	"fmt"

	"github.com/trucewatch/trucewatch/storage/read"
)

// Any tile is a contiguous range of the stored tile keys.
func ExampleTileRange() {
	aleppo := read.TileOf(37.15, 36.2, 8)
	lo, hi := read.TileRange(aleppo)
	k := read.TileKey(37.1612, 36.2021)
	fmt.Println(aleppo, k >= lo && k < hi, read.TileAt(k, 8) == aleppo)
	// Output: {154 100 8} true true
}
