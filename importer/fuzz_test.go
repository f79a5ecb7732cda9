package importer_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/trucewatch/trucewatch/importer"
)

// FuzzImport feeds arbitrary files to both mappings: no panic, and every
// row read is either a report or a rejection.
func FuzzImport(f *testing.F) {
	for _, p := range []string{ucdpSample, acledSample} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte("id,date_start\n\"1,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ds := range importer.Datasets {
			im, err := importer.New(bytes.NewReader(data), importer.Options{Dataset: ds, Revision: 190100, Now: now})
			if err != nil {
				continue
			}
			sent := 0
			for {
				_, ok, err := im.Next()
				if err != nil || !ok {
					break
				}
				sent++
			}
			st := im.Stats()
			if st.Read != sent+st.Rejected+st.Unchanged {
				t.Fatalf("%s: read %d, sent %d, rejected %d", ds, st.Read, sent, st.Rejected)
			}
			im.Close()
		}
	})
}
