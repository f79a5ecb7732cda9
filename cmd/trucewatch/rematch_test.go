package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/geo/geotest"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/violation"
)

// TestRematchCommand stores reports matched with the nationwide zone set
// only, then rematches them with the shipped zone sets (which add the
// Astana zones) through the subcommand.
func TestRematchCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	store := chtest.Open(t, srv, storage.Options{Database: db})
	old := geotest.Matcher(t, "syria-ceasefire-2016")
	// Idlib (astana-1), Daraa (astana-2), Deir ez-Zor (no Astana zone)
	points := []orb.Point{{36.6337, 35.9306}, {36.1021, 32.6189}, {40.14, 35.33}}
	var rows []storage.Row
	for i, p := range points {
		r := report.Report{ID: fmt.Sprint("r", i), PartnerID: "p", Revision: 1,
			ObservedAt: time.Date(2017, 8, 10+i, 10, 0, 0, 0, time.UTC), Lat: p[1], Lon: p[0],
			Category: "shelling", Perpetrator: report.Actor{Side: "government"}, Killed: 1}
		rows = append(rows, enrich.New(old, violation.DefaultRules()).Row(&r, time.Time{}))
	}
	if _, err := store.WriteBatch(ctx, storage.Batch{Span: storage.Span{Source: storage.Source{Cluster: "c", Topic: "t"}, First: 0, Last: 2}, Rows: rows}); err != nil {
		t.Fatal(err)
	}

	rematchCmd := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		args = append([]string{"rematch", "--clickhouse", srv.Addr(), "--database", db, "--from", "2017-08-01", "--to", "2017-09-01T00:00:00Z"}, args...)
		code := run(args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
		return code, out.String(), errb.String()
	}
	code, out, errs := rematchCmd("--dry-run")
	if code != 0 || !strings.Contains(out, "examined 3, changed 2, relabelled 1, unchanged 0") || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = rematchCmd()
	if code != 0 || !strings.Contains(out, "examined 3, changed 2, relabelled 1, unchanged 0; 1 batch(es)") {
		t.Fatalf("rematch: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"astana-1         1        1          0        1     0", "nationwide-2016"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = rematchCmd()
	if code != 0 || !strings.Contains(out, "examined 3, changed 0, relabelled 0, unchanged 3; 0 batch(es)") {
		t.Fatalf("second rematch: exit %d\n%s%s", code, out, errs)
	}
	if code, _, _ := rematchCmd("--to", "2017-07-01"); code != 2 {
		t.Errorf("--to before --from: exit %d, want 2", code)
	}
}
