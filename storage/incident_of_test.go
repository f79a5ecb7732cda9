package storage_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/read"
)

// TestIncidentOfRoundTrip: a report's explicit link (incident_of) is
// stored by WriteBatch, carried by the retraction a correction writes (the
// stored row read back), by a rematch and by a withdrawal's row, and read
// by ChangedReports, the resolver's read; the counts do not see it.
func TestIncidentOfRoundTrip(t *testing.T) {
	s := openStore(t, nil)
	ctx := ctxT(t)
	to := read.ReportKey{PartnerID: "p2", ReportID: "x"}
	a, b := row("a", 1, 2), row("b", 1, 3)
	a.IncidentOf = to
	before := time.Now().Add(-2 * time.Second)
	write(t, s, span(0, 1), a, b)
	wantTotals(t, s, 2, 5)

	links := func(since time.Time) map[string]read.ReportKey {
		t.Helper()
		ch, err := s.ChangedReports(ctx, since)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]read.ReportKey{}
		for _, r := range ch.Current {
			out[r.ReportID] = r.IncidentOf
		}
		return out
	}
	if got := links(time.Time{}); got["a"] != to || got["b"] != (read.ReportKey{}) || len(got) != 2 {
		t.Fatalf("full read: %v", got)
	}
	if got := links(before); got["a"] != to || len(got) != 2 {
		t.Fatalf("changed since: %v", got)
	}

	// Corrections: a drops its link, b gains one. The -1 rows are the
	// stored rows read back, links included.
	a2, b2 := row("a", 2, 2), row("b", 2, 3)
	b2.IncidentOf = read.ReportKey{PartnerID: "p1", ReportID: "a"}
	if res := write(t, s, span(2, 3), a2, b2); res.Retracted != 2 {
		t.Fatalf("corrections: %+v", res)
	}
	wantTotals(t, s, 2, 5)
	if got := links(time.Time{}); got["a"] != (read.ReportKey{}) || got["b"] != b2.IncidentOf {
		t.Fatalf("after the corrections: %v", got)
	}
	if got := rawLinks(t, s); !slices.Equal(got, []string{
		"a 1 -1 p2/x", "a 1 1 p2/x", "a 2 1 /", "b 1 -1 /", "b 1 1 /", "b 2 1 p1/a"}) {
		t.Fatalf("raw rows: %v", got)
	}
	cur, err := s.Current(ctx, "p1", "b")
	if err != nil || cur.IncidentOf != b2.IncidentOf {
		t.Fatalf("stored b: %+v, %v", cur.IncidentOf, err)
	}

	// A rematch rewrites b's row with its link.
	in, err := s.CurrentIn(ctx, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil || len(in) != 2 || in[1].ReportID != "b" || in[1].IncidentOf != b2.IncidentOf {
		t.Fatalf("current in the window: %+v, %v", in, err)
	}
	nw := in[1].Row
	nw.ZoneSet, nw.Zones = "zs2", []string{"z3"}
	if _, err := s.WriteRematch(ctx, "zs2", []storage.Rematch{{Stored: in[1], New: nw}}); err != nil {
		t.Fatal(err)
	}
	if got := links(time.Time{}); got["b"] != b2.IncidentOf {
		t.Fatalf("after the rematch: %v", got)
	}

	// A withdrawal keeps the content it withdraws, the link too; the
	// report is no longer current.
	write(t, s, span(4, 4), withdrawal("b", 3))
	if got := links(time.Time{}); len(got) != 1 {
		t.Fatalf("after the withdrawal: %v", got)
	}
	h, err := s.History(ctx, "p1", "b")
	if err != nil || len(h) != 3 || h[2].IncidentOf != b2.IncidentOf || !h[2].Withdrawn {
		t.Fatalf("history of b: %+v, %v", h, err)
	}
}

// rawLinks is every raw row's report, revision, sign and link.
func rawLinks(t *testing.T, s *storage.Store) []string {
	t.Helper()
	rows, err := s.Conn().Query(ctxT(t), "SELECT report_id, revision, sign, incident_of_partner_id, incident_of_report_id FROM `"+s.Database()+
		"`.reports FINAL ORDER BY report_id, revision, sign")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			id, lp, lr string
			rev        uint32
			sign       int8
		)
		if err := rows.Scan(&id, &rev, &sign, &lp, &lr); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %d %s/%s", id, rev, sign, lp, lr))
	}
	return out
}
