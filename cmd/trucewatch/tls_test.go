package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trucewatch/trucewatch/internal/testcert"
	"github.com/trucewatch/trucewatch/storage/chtest"
)

// TestServeTLS: with --tls-cert and --tls-key (here from the environment)
// serve speaks HTTPS, and only HTTPS, on --listen.
func TestServeTLS(t *testing.T) {
	srv := chtest.Shared(t)
	db := chtest.Database(t)
	var out, errOut bytes.Buffer
	std := stdio{in: strings.NewReader(""), out: &out, err: &errOut}
	if code := run([]string{"migrate", "--clickhouse", srv.Addr(), "--database", db}, std); code != 0 {
		t.Fatalf("migrate: %s", errOut.String())
	}
	cert := testcert.New(t)
	certFile, keyFile, pool := cert.CertFile, cert.KeyFile, cert.Pool

	// Half a pair is refused before anything starts.
	errOut.Reset()
	if code := run([]string{"serve", "--tls-cert", certFile, "--clickhouse", srv.Addr(), "--database", db}, std); code == 0 ||
		!strings.Contains(errOut.String(), "--tls-key") {
		t.Errorf("serve with --tls-cert alone: %d %s", code, errOut.String())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	startChild(t, "serve", "TRUCEWATCH_LISTEN="+addr, "TRUCEWATCH_TLS_CERT="+certFile, "TRUCEWATCH_TLS_KEY="+keyFile,
		"TRUCEWATCH_CLICKHOUSE="+srv.Addr(), "TRUCEWATCH_DATABASE="+db)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := "https://" + addr + "/v1/zones.geojson?set=astana-2017&from=2017-08-01&to=2017-08-02"
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp, err = client.Get(url); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil || !bytes.Contains(body, []byte(`"FeatureCollection"`)) {
		t.Errorf("HTTPS: %d tls=%v %.200s", resp.StatusCode, resp.TLS != nil, body)
	}
	// Plain HTTP on the same port gets no API answer.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200: %s", b)
		}
	}
}
