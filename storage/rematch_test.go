package storage_test

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
)

// cells is every aggregate and the current reports of a store, as
// "dims = sums" lines, zero cells dropped: what readers see.
func cells(t *testing.T, s *storage.Store) []string {
	t.Helper()
	db := "`" + s.Database() + "`"
	var out []string
	for _, q := range []string{
		`SELECT concat('zone ', zone, ' ', toString(hour), ' ', category, toString(violation), toString(possible)),
    sum(n_reports), sum(n_killed), sum(n_injured) FROM ` + db + `.counts_zone_hour FINAL GROUP BY zone, hour, category, violation, possible`,
		`SELECT concat('adm ', adm1, adm2, adm3, ' ', toString(day), ' ', category, toString(violation_class)),
    sum(n_reports), sum(n_killed), sum(n_injured) FROM ` + db + `.counts_adm_day FINAL GROUP BY adm1, adm2, adm3, day, category, violation_class`,
		`SELECT concat('tile ', toString(tile), ' ', toString(day), ' ', category, toString(violation_class)),
    sum(n_reports), sum(n_killed), sum(n_injured) FROM ` + db + `.counts_tile_day FINAL GROUP BY tile, day, category, violation_class`,
		`SELECT concat('raw ', partner_id, '/', report_id, ' r', toString(revision)),
    toInt64(sum(sign)), toInt64(sum(sign * killed)), toInt64(sum(sign * violation)) FROM ` + db + `.reports FINAL GROUP BY partner_id, report_id, revision`,
		`SELECT concat('current ', partner_id, '/', report_id, ' r', toString(revision), ' ', zone_set, ' ',
    arrayStringConcat(zones, ','), ' ', adm3, ' ', toString(violation)), toInt64(count()), toInt64(sum(killed)), toInt64(0)
    FROM ` + db + `.reports_current GROUP BY partner_id, report_id, revision, zone_set, zones, adm3, violation`,
	} {
		rows, err := s.Conn().Query(ctxT(t), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var (
				k       string
				a, b, c int64
			)
			if err := rows.Scan(&k, &a, &b, &c); err != nil {
				t.Fatal(err)
			}
			if a != 0 || b != 0 || c != 0 {
				out = append(out, fmt.Sprintf("%s = %d %d %d", k, a, b, c))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	sort.Strings(out)
	return out
}

// rematched is r matched anew: other zones, admin area and violation.
func rematched(r storage.Row) storage.Row {
	r.ZoneSet, r.Zones, r.PossibleZones = "zs2", []string{"z3", "z4"}, nil
	r.Adm1, r.Adm2, r.Adm3 = "SY03", "SY0300", "SY030000"
	r.Violation, r.ViolationReason = false, "not_violation:no_zone"
	return r
}

// rematchAll rematches every report at t0 but skip.
func rematchAll(t *testing.T, s *storage.Store, version, skip string) storage.Span {
	t.Helper()
	cur, err := s.CurrentIn(ctxT(t), t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var rs []storage.Rematch
	for _, st := range cur {
		if st.ReportID != skip {
			rs = append(rs, storage.Rematch{Stored: st, New: rematched(st.Row)})
		}
	}
	sp, err := s.WriteRematch(ctxT(t), version, rs)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestRematchRecover: a rematch batch whose INSERT reached reports and
// only some of the materialized views, then the process died (ledger
// pending). RecoverRematch sends it again; every table ends up as if the
// reports had been ingested with the new match, and a later correction
// retracts the rematched row.
func TestRematchRecover(t *testing.T) {
	stored, fresh := openStore(t, nil), openStore(t, nil)
	var old, nw []storage.Row
	for i := range 5 {
		r := row(fmt.Sprint("r", i), 1, uint32(i))
		old = append(old, r)
		nw = append(nw, rematched(r))
	}
	write(t, stored, span(0, 4), old...)
	write(t, fresh, span(0, 4), nw...)

	// the adm view misses the batch; the ledger still says pending
	mustExec(t, stored, "DETACH TABLE `"+stored.Database()+"`.counts_adm_day_mv")
	sp := rematchAll(t, stored, "zs2", "")
	mustExec(t, stored, "ATTACH TABLE `"+stored.Database()+"`.counts_adm_day_mv")
	mustExec(t, stored, fmt.Sprintf("ALTER TABLE `%s`.ledger DELETE WHERE kafka_cluster = '%s'", stored.Database(), storage.RematchCluster))
	for {
		p, err := stored.PendingRematch(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := stored.Conn().QueryRow(ctxT(t), fmt.Sprintf("SELECT count() FROM `%s`.ledger WHERE kafka_cluster = 'rematch'", stored.Database())).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 && len(p) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustExec(t, stored, fmt.Sprintf("INSERT INTO `%s`.ledger (kafka_cluster, kafka_topic, kafka_partition, first_offset, last_offset, state, written_at) SELECT '%s', '%s', 0, %d, %d, 0, now()",
		stored.Database(), sp.Cluster, sp.Topic, sp.First, sp.Last))
	if reflect.DeepEqual(cells(t, stored), cells(t, fresh)) {
		t.Fatal("the simulated crash left the tables exact")
	}
	pend, err := stored.CurrentIn(ctxT(t), t0, t0.Add(time.Second))
	if err != nil || len(pend) != 5 {
		t.Fatalf("current: %d, %v", len(pend), err)
	}
	if _, err := stored.WriteRematch(ctxT(t), "zs2", []storage.Rematch{{Stored: pend[0], New: pend[0].Row}}); !errors.Is(err, storage.ErrRematchPending) {
		t.Fatalf("write with a pending batch: %v", err)
	}

	done, err := stored.RecoverRematch(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0] != sp {
		t.Fatalf("recovered %v, want %v", done, sp)
	}
	if err := stored.SettleRevisions(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if n, err := stored.UnsettledRevisions(ctxT(t)); err != nil || n != 0 {
		t.Fatalf("unsettled %d, %v", n, err)
	}
	if got, want := cells(t, stored), cells(t, fresh); !reflect.DeepEqual(got, want) {
		t.Fatalf("after recovery\n got %q\nwant %q", got, want)
	}
	if cur, err := stored.Current(ctxT(t), "p1", "r1"); err != nil || cur.ZoneSet != "zs2" {
		t.Fatalf("current after rematch: %s, %v", cur.ZoneSet, err)
	}
	// recovering again does nothing
	if done, err := stored.RecoverRematch(ctxT(t)); err != nil || len(done) != 0 {
		t.Fatalf("second recovery: %v, %v", done, err)
	}

	// a correction retracts the rematched row
	fix := row("r1", 2, 9)
	fix.Lat, fix.Lon = 35.1, 36.7
	write(t, stored, span(5, 5), fix)
	write(t, fresh, span(5, 5), fix)
	if got, want := cells(t, stored), cells(t, fresh); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a correction\n got %q\nwant %q", got, want)
	}

	// rematch back to the first match, then forward again: the same
	// revision in a third generation
	cur, err := stored.CurrentIn(ctxT(t), t0, t0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var back []storage.Rematch
	for _, st := range cur {
		if st.ReportID == "r1" {
			continue // corrected: revision 2, as ingested
		}
		if st.Gen != 1 {
			t.Fatalf("%s: gen %d", st.ReportID, st.Gen)
		}
		back = append(back, storage.Rematch{Stored: st, New: row(st.ReportID, st.Revision, st.Killed)})
	}
	if _, err := stored.WriteRematch(ctxT(t), "zs1", back); err != nil {
		t.Fatal(err)
	}
	rematchAll(t, stored, "zs2", "r1")
	if err := stored.SettleRevisions(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := cells(t, stored), cells(t, fresh); !reflect.DeepEqual(got, want) {
		t.Fatalf("after rematching back and forth\n got %q\nwant %q", got, want)
	}
	write(t, stored, span(6, 6), row("r2", 3, 1))
	write(t, fresh, span(6, 6), row("r2", 3, 1))
	if got, want := cells(t, stored), cells(t, fresh); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a correction of a twice rematched report\n got %q\nwant %q", got, want)
	}
}

func TestPendingSpans(t *testing.T) {
	s := openStore(t, nil)
	if p, err := s.PendingSpans(ctxT(t)); err != nil || len(p) != 0 {
		t.Fatalf("%v, %v", p, err)
	}
	if err := storage.MarkPending(ctxT(t), s, span(0, 9)); err != nil {
		t.Fatal(err)
	}
	p, err := s.PendingSpans(ctxT(t))
	if err != nil || len(p) != 1 || p[0] != span(0, 9) {
		t.Fatalf("%v, %v", p, err)
	}
	if p, err := s.PendingRematch(ctxT(t)); err != nil || len(p) != 0 {
		t.Fatalf("rematch: %v, %v", p, err)
	}
}
