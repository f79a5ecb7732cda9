package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runZonesCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"zones"}, args...), stdio{in: strings.NewReader(stdin), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestZonesCheck(t *testing.T) {
	code, out, errs := runZonesCmd(t, "", "check", "../../geo/zones/astana-2017.geojson", "../../geo/zones/syria-ceasefire-2016.geojson")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errs)
	}
	for _, want := range []string{`set "astana-2017"`, "astana-4", "de_escalation", "3 pcode(s) = 35 sub-district(s)", "nationwide-2016", "272 sub-district(s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.geojson")
	doc := `{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"id":"open","kind":"buffer","valid_from":"2018-01-01"},"geometry":{"type":"Polygon","coordinates":[[[36,35],[37,35],[37,36],[36,36]]]}},
	 {"type":"Feature","properties":{"id":"late","kind":"ceasefire","valid_from":"2018-01-01","valid_to":"2017-01-01","pcodes":["SY99"]},"geometry":null}]}`
	if err := os.WriteFile(bad, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runZonesCmd(t, "", "check", bad)
	if code != 1 {
		t.Fatalf("invalid file: exit %d", code)
	}
	for _, want := range []string{"INVALID, 3 problem(s)", "zone open: ring 0 is not closed", `zone late: unknown pcode "SY99"`, "zone late: valid_to 2017-01-01 is not after valid_from"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, _, _ := runZonesCmd(t, ""); code != 2 {
		t.Errorf("no subcommand: exit %d, want 2", code)
	}
}

func TestZonesMatch(t *testing.T) {
	in := strings.Join([]string{
		`{"id":"daraa","lon":36.1021,"lat":32.6189,"observed_at":"2017-08-01T10:00:00Z","category":"shelling","perpetrator":{"name":"Syrian Arab Army","side":"government"}}`,
		`{"id":"tartus","lon":35.88659,"lat":34.88902,"observed_at":"2017-01-05","category":"ied","perpetrator":"IS"}`,
		`{"id":"idlib-early","lon":36.6337,"lat":35.9306,"category":"airstrike"}`,
		``,
		`{"id":"no-lat","lon":36}`,
	}, "\n")
	code, out, errs := runZonesCmd(t, in, "match", "--at", "2016-06-01")
	if code != 1 || !strings.Contains(errs, "1 of 5 line(s) could not be matched") {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 4 {
		t.Fatalf("%d output lines, want 4:\n%s", len(lines), out)
	}
	daraa, tartus, idlib, bad := lines[0], lines[1], lines[2], lines[3]
	if daraa["adm1"] != "SY12" || daraa["violation"] != true || daraa["violation_reason"] != "in_zone:astana-4,nationwide-2016;hostile:shelling" {
		t.Errorf("daraa: %v", daraa)
	}
	zones := daraa["zones"].([]any)
	if len(zones) != 2 || zones[0].(map[string]any)["depth_m"].(float64) <= 0 {
		t.Errorf("daraa zones: %v", zones)
	}
	if !strings.HasPrefix(daraa["zone_set"].(string), "zs:") {
		t.Errorf("zone_set %v", daraa["zone_set"])
	}
	if tartus["adm3"] != "SY100000" || tartus["adm_approx"] != true || tartus["violation_reason"] != "not_violation:excluded_perpetrator" {
		t.Errorf("tartus: %v", tartus)
	}
	// --at applies to points without observed_at: June 2016, no zone in
	// force yet; the nearest ceasefire is reported with its distance.
	if idlib["at"] != "2016-06-01T00:00:00Z" || idlib["violation_reason"] != "not_violation:no_zone" {
		t.Errorf("idlib: %v", idlib)
	}
	if bad["line"] != 5.0 || !strings.Contains(bad["error"].(string), "lon and lat are required") {
		t.Errorf("bad line: %v", bad)
	}
}

func TestZonesMatchFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "z.geojson")
	doc := `{"type":"FeatureCollection","name":"local","features":[
	 {"type":"Feature","properties":{"id":"sq","kind":"ceasefire","valid_from":"2018-01-01"},"geometry":{"type":"Polygon","coordinates":[[[36,35],[37,35],[37,36],[36,36],[36,35]]]}}]}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	in := `{"lon":36.2,"lat":34.9,"category":"shelling"}` + "\n" + `{"lon":36.2,"lat":35.2,"category":"shelling"}` + "\n"
	code, out, errs := runZonesCmd(t, in, "match", "--zones", path, "--at", "2018-06-01T00:00:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	ls := strings.Split(strings.TrimSpace(out), "\n")
	var outside, inside struct {
		Zones   []map[string]any `json:"zones"`
		Nearest []struct {
			ID        string  `json:"id"`
			DistanceM float64 `json:"distance_m"`
		} `json:"nearest"`
		Violation bool `json:"violation"`
	}
	if err := json.Unmarshal([]byte(ls[0]), &outside); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(ls[1]), &inside); err != nil {
		t.Fatal(err)
	}
	if len(outside.Zones) != 0 || len(outside.Nearest) != 1 || outside.Nearest[0].ID != "sq" ||
		outside.Nearest[0].DistanceM < 11000 || outside.Nearest[0].DistanceM > 11200 || outside.Violation {
		t.Errorf("outside: %+v", outside)
	}
	if len(inside.Zones) != 1 || !inside.Violation {
		t.Errorf("inside: %+v", inside)
	}
}
