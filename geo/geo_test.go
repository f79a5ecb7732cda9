package geo

import (
	"bufio"
	"encoding/csv"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"
)

func mustAdmin(tb testing.TB) *Admin {
	tb.Helper()
	a, err := LoadAdmin()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func mustMatcher(tb testing.TB) *Matcher {
	tb.Helper()
	a := mustAdmin(tb)
	sets, err := ShippedZoneSets(a)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := NewMatcher(a, sets...)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// ucdpPoint is one row of testdata/ucdp-points.csv.
type ucdpPoint struct {
	ID        string
	P         orb.Point
	Date      time.Time
	WherePrec int
	SideA     string
	SideB     string
	Where     string
}

var (
	ucdpOnce sync.Once
	ucdpPts  []ucdpPoint
	ucdpErr  error
)

func loadUCDP(tb testing.TB) []ucdpPoint {
	tb.Helper()
	ucdpOnce.Do(func() { ucdpPts, ucdpErr = readUCDP("testdata/ucdp-points.csv") })
	if ucdpErr != nil {
		tb.Fatal(ucdpErr)
	}
	return ucdpPts
}

// readCSV reads a CSV file skipping '#' comment lines, as maps by header.
func readCSV(path string) ([]map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.Comment = '#'
	head, err := r.Read()
	if err != nil {
		return nil, err
	}
	var out []map[string]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		m := make(map[string]string, len(head))
		for i, h := range head {
			m[h] = rec[i]
		}
		out = append(out, m)
	}
}

func readUCDP(path string) ([]ucdpPoint, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	pts := make([]ucdpPoint, 0, len(rows))
	for _, r := range rows {
		lon, err1 := strconv.ParseFloat(r["lon"], 64)
		lat, err2 := strconv.ParseFloat(r["lat"], 64)
		d, err3 := time.Parse("2006-01-02", r["date"])
		wp, err4 := strconv.Atoi(r["where_prec"])
		for _, err := range []error{err1, err2, err3, err4} {
			if err != nil {
				return nil, err
			}
		}
		pts = append(pts, ucdpPoint{r["id"], orb.Point{lon, lat}, d, wp, r["side_a"], r["side_b"], r["where"]})
	}
	return pts, nil
}

func TestLoadAdmin(t *testing.T) {
	a := mustAdmin(t)
	if n1, n2, n3 := len(a.Areas(1)), len(a.Areas(2)), len(a.Areas(3)); n1 != 14 || n2 != 62 || n3 != 272 {
		t.Fatalf("areas %d/%d/%d, want 14/62/272", n1, n2, n3)
	}
	ar, ok := a.Area("SY040401")
	if !ok || ar.Name != "Talbiseh" || ar.Adm2 != "SY0404" || ar.Adm1 != "SY04" {
		t.Fatalf("SY040401 = %+v", ar)
	}
}

// TestUCDPAgainstGEOS compares the sub-district of all 16,566 UCDP events
// with what GEOS (shapely) says, see testdata/gen_expected.py.
func TestUCDPAgainstGEOS(t *testing.T) {
	m := mustMatcher(t)
	pts := loadUCDP(t)
	exp, err := readCSV("testdata/ucdp-expected.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != len(pts) || len(pts) != 16566 {
		t.Fatalf("%d expected rows for %d points, want 16566", len(exp), len(pts))
	}
	var dst Match
	none, approx := 0, 0
	for i, p := range pts {
		e := exp[i]
		if e["id"] != p.ID {
			t.Fatalf("row %d: expected id %s, point id %s", i, e["id"], p.ID)
		}
		m.Match(p.P, time.Time{}, 0, &dst)
		if e["adm3"] == "none" {
			none++
			if !dst.AdmApprox {
				t.Errorf("event %s (%s) %v: GEOS: in no sub-district; got %s, AdmApprox false", p.ID, p.Where, p.P, dst.Adm3)
				continue
			}
			approx++
			wantD, _ := strconv.ParseFloat(e["nearest_m"], 64)
			if dst.Adm3 != e["nearest"] || abs(dst.AdmDistM-wantD) > 0.5+0.001*wantD {
				t.Errorf("event %s (%s): nearest %s at %.1f m, GEOS %s at %.1f m", p.ID, p.Where, dst.Adm3, dst.AdmDistM, e["nearest"], wantD)
			}
			continue
		}
		want := strings.Split(e["adm3"], "|")
		if dst.AdmApprox || dst.Adm3 != want[0] {
			t.Errorf("event %s (%s) %v: adm3 %s (approx %v), GEOS %s", p.ID, p.Where, p.P, dst.Adm3, dst.AdmApprox, e["adm3"])
		}
	}
	if none != 52 {
		t.Errorf("%d points in no sub-district, want 52", none)
	}
	t.Logf("%d points, %d in no sub-district (%d given the nearest)", len(pts), none, approx)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestAdminIndexStats(t *testing.T) {
	a := mustAdmin(t)
	ix, err := a.index()
	if err != nil {
		t.Fatal(err)
	}
	l := ix.layer
	full, lists := 0, 0
	for c := 0; c < l.nx*l.ny; c++ {
		v := l.cell(c%l.nx, c/l.nx)
		switch {
		case v == 0:
		case v <= l.nShapes:
			full++
		default:
			lists++
		}
	}
	crossing := 0
	for _, e := range l.entries {
		if e.segEnd > e.segStart {
			crossing++
		}
	}
	uniform := 0
	for _, b := range l.blocks {
		if b&uniformBlock != 0 {
			uniform++
		}
	}
	t.Logf("%d blocks of %dx%d cells, %d uniform; block table %d KiB, mixed blocks %d KiB", len(l.blocks), blockSide, blockSide, uniform, len(l.blocks)*4/1024, len(l.blockCells)*4/1024)
	t.Logf("grid %dx%d cells of %.4fx%.4f deg; %d fully inside one sub-district, %d with edges; %d edge copies of %d edges, %.1f per crossing entry; boundary of Syria %d edges",
		l.nx, l.ny, l.dx, l.dy, full, lists, len(l.segs), len(ix.edges), float64(len(l.segs))/float64(crossing), len(ix.exterior.segs))
	if lists == 0 || full == 0 || len(ix.exterior.segs) == 0 {
		t.Fatal("empty index")
	}
}
