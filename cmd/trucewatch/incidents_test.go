package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/storage"
	"github.com/trucewatch/trucewatch/storage/chtest"
	"github.com/trucewatch/trucewatch/storage/read"
)

// TestIncidentsCommand resolves two partners' reports of one event, and a
// third report elsewhere, with trucewatch incidents --once.
func TestIncidentsCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	store := chtest.Open(t, srv, storage.Options{Database: db})
	at := time.Date(2017, 8, 10, 10, 0, 0, 0, time.UTC)
	rows := []storage.Row{
		{PartnerID: "a", ReportID: "1", Revision: 1, ObservedAt: at, Lat: 35.93, Lon: 36.63, Category: "shelling", ReceivedAt: at},
		{PartnerID: "b", ReportID: "x", Revision: 1, ObservedAt: at.Add(30 * time.Minute), Lat: 35.935, Lon: 36.632, Category: "shelling", ReceivedAt: at},
		{PartnerID: "b", ReportID: "y", Revision: 1, ObservedAt: at, Lat: 32.62, Lon: 36.10, Category: "shelling", ReceivedAt: at},
	}
	if _, err := store.WriteBatch(ctx, storage.Batch{Span: storage.Span{Source: storage.Source{Cluster: "c", Topic: "t"}, First: 0, Last: 2}, Rows: rows}); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"incidents", "--clickhouse", srv.Addr(), "--database", db, "--once", "--partner-groups", "a=guarantor:ru,b=guarantor:tr"},
		stdio{in: strings.NewReader(""), out: &out, err: &errb})
	if code != 0 || !strings.Contains(out.String(), "3 reports in 2 incidents; wrote 2, deleted 0, 3 aggregate cells") {
		t.Fatalf("incidents: exit %d\n%s%s", code, out.String(), errb.String())
	}
	c, err := store.IncidentCounts(ctx, read.IncidentQuery{})
	if err != nil || c != (read.IncidentCounts{Incidents: 2, Reports: 3, Single: 1, Corroborated: 1, CrossGroups: 1}) {
		t.Fatalf("counts %+v %v", c, err)
	}
	out.Reset()
	if code := run([]string{"incidents", "--clickhouse", srv.Addr(), "--database", db, "--once", "--partner-groups", "a"},
		stdio{in: strings.NewReader(""), out: &out, err: &errb}); code == 0 {
		t.Fatal("a bad --partner-groups was accepted")
	}
}
