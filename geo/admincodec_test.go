package geo

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "regenerate data/admin.bin from the GeoJSON")

// TestAdminData checks that data/admin.bin is exactly the GeoJSON in
// data/ (with -update, rewrites it).
func TestAdminData(t *testing.T) {
	levels, err := parseAdminGeoJSON(os.DirFS("data"))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encodeAdmin(levels)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("data/admin.bin", enc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	embedded, err := dataFS.ReadFile("data/admin.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !*update && !bytes.Equal(enc, embedded) {
		t.Fatal("data/admin.bin is not the GeoJSON: go test ./geo -run TestAdminData -update")
	}
	dec, err := decodeAdmin(enc)
	if err != nil {
		t.Fatal(err)
	}
	for l := range levels {
		if len(dec[l]) != len(levels[l]) {
			t.Fatalf("level %d: %d areas, want %d", l+1, len(dec[l]), len(levels[l]))
		}
		for i := range levels[l] {
			if !reflect.DeepEqual(dec[l][i], levels[l][i]) {
				t.Fatalf("level %d area %s differs after the round trip", l+1, levels[l][i].PCode)
			}
		}
	}
	// Corrupt data is an error, not a panic.
	for _, n := range []int{0, 10, len(enc) / 2, len(enc) - 1} {
		if _, err := decodeAdmin(enc[:n]); err == nil {
			t.Errorf("truncated at %d: no error", n)
		}
	}
}
