package partners

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/internal/testclock"
)

func newKeys(t *testing.T) (*Keys, *testclock.Clock) {
	t.Helper()
	k, err := Create(filepath.Join(t.TempDir(), "sub", "partners.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := testclock.New(time.Date(2017, 1, 4, 12, 0, 0, 0, time.UTC)) // for the reload interval
	k.now = c.Now
	k.checked.Store(c.Now().UnixNano())
	return k, c
}

func TestAddAuthenticateRevoke(t *testing.T) {
	k, _ := newKeys(t)
	a, err := k.Add("sohr-field")
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.Add("vdc-ghouta")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(a, KeyPrefix) || len(a) != len(KeyPrefix)+43 || a == b {
		t.Fatalf("keys %q %q", a, b)
	}
	for key, want := range map[string]string{a: "sohr-field", b: "vdc-ghouta"} {
		if got, ok := k.Authenticate(key); !ok || got != want {
			t.Errorf("Authenticate = %q, %v; want %q", got, ok, want)
		}
	}
	for _, bad := range []string{"", KeyPrefix, a[:len(a)-1], a + "x", strings.ToUpper(a), b[3:]} {
		if id, ok := k.Authenticate(bad); ok {
			t.Errorf("Authenticate(%q) = %q", bad, id)
		}
	}

	// The file holds hashes only.
	raw, err := os.ReadFile(k.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), a[len(KeyPrefix):]) || strings.Contains(string(raw), b[len(KeyPrefix):]) {
		t.Fatal("keys file holds a key in clear")
	}
	if st, _ := os.Stat(k.Path()); st.Mode().Perm() != 0o600 {
		t.Errorf("keys file mode %v, want 0600", st.Mode().Perm())
	}

	// Rotation: a second key for the same partner writes as the same id.
	a2, err := k.Add("sohr-field")
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := k.Authenticate(a2); !ok || id != "sohr-field" {
		t.Fatalf("rotated key: %q %v", id, ok)
	}
	// Revoke only the old key: the new one keeps working.
	old := k.List()[0].KeyID
	if err := k.RevokeKey("sohr-field", old); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.Authenticate(a); ok {
		t.Error("revoked old key authenticates")
	}
	if _, ok := k.Authenticate(a2); !ok {
		t.Error("revoking the old key revoked the new one")
	}
	if err := k.RevokeKey("sohr-field", "ffffffffffff"); !errors.Is(err, ErrUnknownPartner) && old != "ffffffffffff" {
		t.Errorf("RevokeKey of an unknown key id: %v", err)
	}
	if err := k.Revoke("sohr-field"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{a, a2} {
		if _, ok := k.Authenticate(key); ok {
			t.Error("revoked key authenticates")
		}
	}
	if _, ok := k.Authenticate(b); !ok {
		t.Error("revoking one partner revoked another")
	}
	list := k.List()
	if len(list) != 3 || list[0].Name != "sohr-field" || !list[0].Revoked() || !list[1].Revoked() || list[2].Revoked() || len(list[2].KeyID) != 12 {
		t.Fatalf("List = %+v", list)
	}
	if err := k.Revoke("nobody"); !errors.Is(err, ErrUnknownPartner) {
		t.Fatalf("Revoke(nobody) = %v", err)
	}
	for _, name := range []string{"", "-x", "a b", "é", "x/y", strings.Repeat("a", 65), "a\u202e"} {
		if _, err := k.Add(name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Add(%q) = %v, want ErrInvalidName", name, err)
		}
	}
}

// TestReload: another process (here another Keys on the same file) revokes
// a key; the running one refuses it after the next check, without restart.
func TestReload(t *testing.T) {
	server, clk := newKeys(t)
	key, err := server.Add("daraa24")
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Open(server.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke("daraa24"); err != nil {
		t.Fatal(err)
	}
	if _, ok := server.Authenticate(key); !ok {
		t.Fatal("the file was checked before ReloadInterval passed")
	}
	clk.Add(ReloadInterval)
	if _, ok := server.Authenticate(key); ok {
		t.Fatal("revoked key still authenticates after the reload interval")
	}

	// A new key added elsewhere is picked up too.
	key2, err := cli.Add("daraa24")
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(ReloadInterval)
	if id, ok := server.Authenticate(key2); !ok || id != "daraa24" {
		t.Fatal("new key not picked up")
	}

	// A broken file keeps the keys as they were.
	if err := os.WriteFile(server.Path(), []byte(`{"version":1,"keys":[{`), 0o600); err != nil {
		t.Fatal(err)
	}
	clk.Add(ReloadInterval)
	if _, ok := server.Authenticate(key2); !ok {
		t.Fatal("a corrupt keys file dropped the keys")
	}
	// A missing file refuses everyone.
	if err := os.Remove(server.Path()); err != nil {
		t.Fatal(err)
	}
	clk.Add(ReloadInterval)
	if _, ok := server.Authenticate(key2); ok {
		t.Fatal("keys still valid after the keys file was removed")
	}
	// And it comes back with the file.
	if err := writeFile(server.Path(), file{Version: FileVersion, Keys: cli.entries}); err != nil {
		t.Fatal(err)
	}
	clk.Add(ReloadInterval)
	if _, ok := server.Authenticate(key2); !ok {
		t.Fatal("keys not back with the file")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	for name, doc := range map[string]any{
		"version":  map[string]any{"version": 2, "keys": []any{}},
		"bad hash": map[string]any{"version": 1, "keys": []any{map[string]any{"name": "a", "key_sha256": "xyz"}}},
		"bad name": map[string]any{"version": 1, "keys": []any{map[string]any{"name": "a b", "key_sha256": strings.Repeat("0", 64)}}},
		"unknown":  map[string]any{"version": 1, "keys": []any{}, "extra": true},
	} {
		p := filepath.Join(dir, name+".json")
		b, _ := json.Marshal(doc)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	dir := b.TempDir()
	k, err := Create(filepath.Join(dir, "p.json"))
	if err != nil {
		b.Fatal(err)
	}
	var key string
	for range 50 {
		if key, err = k.Add("partner"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := k.Authenticate(key); !ok {
			b.Fatal("no")
		}
	}
}
