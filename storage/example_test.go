package storage_test

import (
	"fmt"

	"github.com/trucewatch/trucewatch/storage"
)

// Any tile is a contiguous range of the stored tile keys.
func ExampleTileRange() {
	aleppo := storage.TileOf(37.15, 36.2, 8)
	lo, hi := storage.TileRange(aleppo)
	k := storage.TileKey(37.1612, 36.2021)
	fmt.Println(aleppo, k >= lo && k < hi, storage.TileAt(k, 8) == aleppo)
	// Output: {154 100 8} true true
}
