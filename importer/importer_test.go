package importer_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/importer"
	"github.com/trucewatch/trucewatch/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// now is after every fixture's dates, fixed so that the goldens are stable.
var now = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

const ucdpSample = "testdata/ucdp-ged-syria-sample.csv"
const acledSample = "testdata/acled-synthetic.csv"

// importAll maps every row of file and returns the reports and the stats.
func importAll(t testing.TB, file string, o importer.Options) ([]report.Report, importer.Stats, *importer.Importer) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var data []byte
	if data, err = os.ReadFile(file); err != nil {
		t.Fatal(err)
	}
	return importBytes(t, data, o)
}

func importBytes(t testing.TB, data []byte, o importer.Options) ([]report.Report, importer.Stats, *importer.Importer) {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	im, err := importer.New(bytes.NewReader(data), o)
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	var out []report.Report
	for {
		r, ok, err := im.Next()
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		out = append(out, r)
	}
	return out, im.Stats(), im
}

// golden compares got with testdata/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./importer/ -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s: line %d differs:\n got %s\nwant %s\n(go test ./importer/ -update rewrites it)", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d (go test ./importer/ -update rewrites it)", path, len(gl), len(wl))
	}
}

func ndjson(t *testing.T, reps []report.Report) []byte {
	var b bytes.Buffer
	for _, r := range reps {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func summary(s importer.Stats, sent int) []byte {
	var b bytes.Buffer
	s.Summary(&b, sent)
	return b.Bytes()
}

func TestImportUCDPMapping(t *testing.T) {
	reps, st, _ := importAll(t, ucdpSample, importer.Options{Dataset: "ucdp", Revision: 190100})
	if st.Rejected != 0 {
		t.Errorf("%d rows rejected: %v %v", st.Rejected, st.Reasons, st.Examples)
	}
	if st.Read != 295 || len(reps) != st.Read {
		t.Errorf("read %d rows, mapped %d reports; want 295 of each", st.Read, len(reps))
	}
	golden(t, "ucdp-ged-syria-sample.ndjson", ndjson(t, reps))
	golden(t, "ucdp-ged-syria-sample.summary", summary(st, len(reps)))
}

func TestImportACLEDMapping(t *testing.T) {
	reps, st, _ := importAll(t, acledSample, importer.Options{Dataset: "acled"})
	if st.Read != 13 || st.Rejected != 2 || len(reps) != 11 {
		t.Errorf("read %d, rejected %d (%v), mapped %d; want 13, 2, 11", st.Read, st.Rejected, st.Reasons, len(reps))
	}
	golden(t, "acled-synthetic.ndjson", ndjson(t, reps))
	golden(t, "acled-synthetic.summary", summary(st, len(reps)))
}

// TestImportGzip reads the same sample gzipped: the same reports.
func TestImportGzip(t *testing.T) {
	plain, err := os.ReadFile(ucdpSample)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(plain)
	w.Close()
	a, _, _ := importBytes(t, plain, importer.Options{Dataset: "ucdp", Revision: 190100})
	b, _, _ := importBytes(t, gz.Bytes(), importer.Options{Dataset: "ucdp", Revision: 190100})
	if !bytes.Equal(ndjson(t, a), ndjson(t, b)) {
		t.Fatal("the gzipped file maps to other reports")
	}
}

// TestImportState re-imports with the state of a first import: nothing is
// sent again; a newer version with two events changed sends those two as
// revisions; a change without a newer version is rejected.
func TestImportState(t *testing.T) {
	data, err := os.ReadFile(ucdpSample)
	if err != nil {
		t.Fatal(err)
	}
	first, st, im := importBytes(t, data, importer.Options{Dataset: "ucdp", Revision: 190100})
	if st.New != len(first) {
		t.Fatalf("first import: %d new of %d", st.New, len(first))
	}
	var saved bytes.Buffer
	if _, err := im.State().WriteTo(&saved); err != nil {
		t.Fatal(err)
	}
	prior, err := importer.ReadState(&saved)
	if err != nil {
		t.Fatal(err)
	}
	again, st, _ := importBytes(t, data, importer.Options{Dataset: "ucdp", Revision: 190100, Prior: prior})
	if len(again) != 0 || st.Unchanged != len(first) {
		t.Fatalf("re-import sent %d, %d unchanged; want 0, %d", len(again), st.Unchanged, len(first))
	}
	changed := ChangeUCDP(t, data, 2)
	rev, st, _ := importBytes(t, changed, importer.Options{Dataset: "ucdp", Revision: 200100, Prior: prior})
	if len(rev) != 2 || st.Revised != 2 || st.Unchanged != len(first)-2 {
		t.Fatalf("newer version: sent %d, revised %d, unchanged %d; want 2, 2, %d", len(rev), st.Revised, st.Unchanged, len(first)-2)
	}
	for _, r := range rev {
		if r.Revision != 200100 {
			t.Errorf("%s: revision %d, want 200100", r.ID, r.Revision)
		}
	}
	_, st, _ = importBytes(t, changed, importer.Options{Dataset: "ucdp", Revision: 190100, Prior: prior})
	if st.Rejected != 2 || st.Reasons["changed without a newer revision"] != 2 {
		t.Fatalf("changed, same version: %+v", st)
	}
}

// ChangeUCDP returns the UCDP CSV data with the best estimate of deaths of
// the first n events raised by 5.
func ChangeUCDP(t testing.TB, data []byte, n int) []byte {
	t.Helper()
	return changeUCDP(t, data, n)
}

func TestUCDPRevision(t *testing.T) {
	for v, want := range map[string]uint32{"19.1": 190100, "23.1": 230100, "24.0.3": 240003, "v25.1": 250100} {
		if got, err := importer.UCDPRevision(v); err != nil || got != want {
			t.Errorf("UCDPRevision(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"", "x", "0.1", "1.2.3.4", "100.1"} {
		if _, err := importer.UCDPRevision(v); err == nil {
			t.Errorf("UCDPRevision(%q) took it", v)
		}
	}
	if v := importer.UCDPVersionFromName("GEDEvent_v23_1.csv.gz"); v != "23.1" {
		t.Errorf("version from name: %q", v)
	}
}

func TestSideOf(t *testing.T) {
	for name, want := range map[string]report.Side{
		"Government of Syria":                 report.Government,
		"IS":                                  report.ExcludedGroup,
		"HTS, Southern Front":                 report.ExcludedGroup,
		"Ahrar al-Sham, Jabhat Fateh al-Sham": report.ExcludedGroup,
		"Syrian insurgents":                   report.Opposition,
		"Ahrar al-Sham":                       report.Opposition,
		"Government of Turkey":                report.Unknown,
		"SDF":                                 report.Unknown,
		"Civilians":                           report.Unknown,
		"Tahrir al- Sham Army":                report.Opposition,
		"":                                    "",
	} {
		if got := importer.SideOf(name); got != want {
			t.Errorf("SideOf(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestImportCSVMapping: another dataset's layout through a mapping file;
// rows the mapping cannot express are rejected with their reasons.
func TestImportCSVMapping(t *testing.T) {
	mf, err := os.Open("testdata/monitor-mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	m, err := importer.ReadMapping(mf)
	if err != nil {
		t.Fatal(err)
	}
	reps, st, _ := importAll(t, "testdata/monitor-synthetic.csv", importer.Options{Dataset: "csv", Mapping: m})
	if st.Read != 6 || st.Rejected != 3 || len(reps) != 3 {
		t.Errorf("read %d, rejected %d (%v), mapped %d; want 6, 3, 3", st.Read, st.Rejected, st.Reasons, len(reps))
	}
	golden(t, "monitor-synthetic.ndjson", ndjson(t, reps))
	golden(t, "monitor-synthetic.summary", summary(st, len(reps)))

	for _, c := range []struct{ doc, want string }{
		{`{"name":"m","columns":{"id":"a","observed_at":"b","lat":"c","lon":"d","category":"e","colour":"f"}}`, "columns.colour: not a report field"},
		{`{"name":"m","columns":{"observed_at":"b","lat":"c","lon":"d","category":"e"}}`, "columns.id: required"},
		{`{"name":"m","columns":{"id":"a","lat":"c","lon":"d","category":"e"}}`, "columns.observed_at: required"},
		{`{"name":"m m","columns":{"id":"a","observed_at":"b","lat":"c","lon":"d","category":"e"}}`, "name:"},
		{`{"name":"m","columns":{"id":"a","observed_at":"b","lat":"c","lon":"d"},"constants":{"category":"x"},"colums":{}}`, "unknown field \"colums\""},
	} {
		if _, err := importer.ReadMapping(strings.NewReader(c.doc)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
}

// TestMappingIncidentOf: a mapping reads a report's explicit link from
// columns; without a partner it names another row of the same dataset;
// the link goes through report.Decode's rules like every field.
func TestMappingIncidentOf(t *testing.T) {
	m, err := importer.ReadMapping(strings.NewReader(`{"name":"mon","columns":{"id":"No","observed_at":"Date","lat":"Lat","lon":"Lon",
		"incident_of.id":"Same as","incident_of.partner_id":"Partner of"},"constants":{"category":"shelling"}}`))
	if err != nil {
		t.Fatal(err)
	}
	csv := "No,Date,Lat,Lon,Same as,Partner of\n" +
		"1,2017-01-05,33.57,36.40,,\n" +
		"2,2017-01-05,33.57,36.40,1,\n" +
		"3,2017-01-05,33.57,36.40,X9,tr-obs\n" +
		"4,2017-01-05,33.57,36.40,X 9,tr-obs\n"
	reps, st, _ := importBytes(t, []byte(csv), importer.Options{Dataset: "csv", Mapping: m})
	if st.Read != 4 || st.Rejected != 1 || len(reps) != 3 {
		t.Fatalf("read %d, rejected %d (%v), mapped %d; want 4, 1, 3", st.Read, st.Rejected, st.Reasons, len(reps))
	}
	want := []report.Key{{}, {PartnerID: "mon", ID: "mon-1"}, {PartnerID: "tr-obs", ID: "X9"}}
	for i, r := range reps {
		if r.IncidentOf != want[i] {
			t.Errorf("report %s: incident_of %+v, want %+v", r.ID, r.IncidentOf, want[i])
		}
	}
}
