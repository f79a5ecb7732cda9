package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trucewatch/trucewatch/intake/partners"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, stdio{in: strings.NewReader(""), out: &out, err: &errb})
	return code, out.String(), errb.String()
}

func TestPartnersCommand(t *testing.T) {
	file := filepath.Join(t.TempDir(), "var", "partners.json")

	code, out, errs := runCmd(t, "partners", "add", "--keys", file, "sohr-field")
	if code != 0 {
		t.Fatalf("add: %d %s", code, errs)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, partners.KeyPrefix) || strings.Count(out, "\n") != 1 || !strings.Contains(errs, "only this once") {
		t.Fatalf("add printed %q / %q", out, errs)
	}
	// NAME before the flag works too; a second key rotates.
	if code, out2, errs := runCmd(t, "partners", "add", "sohr-field", "--keys", file); code != 0 || !strings.Contains(errs, "older keys") || out2 == out {
		t.Fatalf("rotate: %d %q %s", code, out2, errs)
	}
	t.Setenv("TRUCEWATCH_KEYS", file) // every flag has its environment variable
	if code, _, errs := runCmd(t, "partners", "add", "vdc-ghouta"); code != 0 {
		t.Fatalf("add via env: %d %s", code, errs)
	}

	keys, err := partners.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := keys.Authenticate(key); !ok || id != "sohr-field" {
		t.Fatalf("printed key does not authenticate: %q %v", id, ok)
	}
	raw, _ := os.ReadFile(file)
	if strings.Contains(string(raw), key[len(partners.KeyPrefix):]) {
		t.Fatal("keys file holds the key in clear")
	}

	code, out, errs = runCmd(t, "partners", "list")
	if code != 0 || strings.Count(out, "sohr-field") != 2 || !strings.Contains(out, "vdc-ghouta") || strings.Contains(out, "revoked") {
		t.Fatalf("list: %d %q %s", code, out, errs)
	}
	var before []partners.Partner
	_, out, _ = runCmd(t, "partners", "list", "--json")
	if err := json.Unmarshal([]byte(out), &before); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "partners", "revoke", "sohr-field", before[0].KeyID); code != 0 {
		t.Fatalf("revoke one key: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "partners", "revoke", "sohr-field"); code != 0 {
		t.Fatalf("revoke: %d %s", code, errs)
	}
	code, out, _ = runCmd(t, "partners", "list", "--json")
	var list []partners.Partner
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 || !list[0].Revoked() || !list[1].Revoked() || list[2].Revoked() {
		t.Fatalf("list --json after revoke: %d %s", code, out)
	}
	keys2, _ := partners.Open(file)
	if _, ok := keys2.Authenticate(key); ok {
		t.Fatal("revoked key authenticates")
	}

	for _, c := range [][]string{
		{"partners"},
		{"partners", "add"},
		{"partners", "add", "a", "b"},
		{"partners", "remove", "x"},
		{"partners", "list", "x"},
		{"partners", "revoke", "a", "b", "c"},
		{"partners", "add", "--bogus", "x"},
	} {
		if code, _, _ := runCmd(t, c...); code != 2 {
			t.Errorf("%q: exit %d, want 2", c, code)
		}
	}
	for _, c := range [][]string{
		{"partners", "revoke", "nobody"},
		{"partners", "add", "not a name"},
		{"partners", "list", "--keys", filepath.Join(t.TempDir(), "missing.json")},
	} {
		if code, _, errs := runCmd(t, c...); code != 1 || errs == "" {
			t.Errorf("%q: exit %d, want 1 with a message", c, code)
		}
	}
}
