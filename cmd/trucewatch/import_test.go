package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trucewatch/trucewatch/kafka/broker"
)

const ucdpSample = "../../importer/testdata/ucdp-ged-syria-sample.csv"

func TestImportDryRun(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"import", "ucdp", ucdpSample, "--dry-run", "--version", "19.1"}, []string{"read       295 rows", "sent       295 reports", "rejected   0"}},
		{[]string{"import", "acled", "--dry-run", "../../importer/testdata/acled-synthetic.csv"}, []string{"read       13 rows", "sent       11 reports", "rejected   2", "Protests / Peaceful protest"}},
		{[]string{"import", "csv", "--map", "../../importer/testdata/monitor-mapping.json", "--dry-run", "../../importer/testdata/monitor-synthetic.csv"}, []string{"read       6 rows", "sent       3 reports", "rejected   3", "monitor: bad killed"}},
	} {
		var out, errOut bytes.Buffer
		if code := run(c.args, stdio{out: &out, err: &errOut}); code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, errOut.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, out.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"import", "ucdp", ucdpSample, "--dry-run"}, stdio{out: &out, err: &errOut}); code != 1 || !strings.Contains(errOut.String(), "--version") {
		t.Errorf("ucdp without a version: exit %d, %s", code, errOut.String())
	}
}

// TestImportSendState sends the sample to a broker, then again with the
// state file of the first run: nothing is sent the second time.
func TestImportSendState(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"reports"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	state := filepath.Join(t.TempDir(), "ucdp.state")
	args := []string{"import", "ucdp", ucdpSample, "--version", "19.1", "--brokers", b.Addrs()[0], "--state", state}
	for i, want := range []string{"sent       295 reports (295 new, 0 revised, 0 withdrawn)", "unchanged  295"} {
		var out, errOut bytes.Buffer
		if code := run(args, stdio{out: &out, err: &errOut}); code != 0 {
			t.Fatalf("run %d: exit %d: %s", i, code, errOut.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("run %d: output lacks %q:\n%s", i, want, out.String())
		}
	}
}
