package importer_test

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"testing"

	"github.com/trucewatch/trucewatch/importer"
)

// changeUCDP raises best (and high) of the first n events by 5.
func changeUCDP(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	rd := csv.NewReader(bytes.NewReader(data))
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, rec := range recs[1 : n+1] {
		for _, c := range []string{"best", "high"} {
			v, err := strconv.Atoi(rec[col[c]])
			if err != nil {
				t.Fatal(err)
			}
			rec[col[c]] = strconv.Itoa(v + 5)
		}
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(recs)
	return b.Bytes()
}

// dropLast removes the last n events of a CSV file.
func dropLast(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(recs[:len(recs)-n])
	return b.Bytes()
}

// mustState is the state an import of data with o leaves (nothing sent).
func mustState(t testing.TB, data []byte, o importer.Options) importer.State {
	t.Helper()
	_, _, im := importBytes(t, data, o)
	return im.State()
}
