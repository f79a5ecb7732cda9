package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/trucewatch/trucewatch/intake"
	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/serve"
	"github.com/trucewatch/trucewatch/storage"
)

// serveFlags are the flags of the HTTP API.
type serveFlags struct {
	listen       string
	ch           clickhouseFlags
	zones        string
	cors         string
	maxWindow    time.Duration
	bulkQueries  int
	queryTimeout time.Duration
	tileMaxAge   time.Duration
	cacheBytes   int
	keys         string
	kafka        kafkaFlags
	logLevel     string
	intake       intake.Options
	readTokens   string
	tlsCert      string
	tlsKey       string
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", ":8080", "HTTP listen address")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate (chain) file: with --tls-key, serve HTTPS (TLS 1.2 or later) on --listen instead of HTTP")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	f.ch.register(fs, "127.0.0.1:9000")
	fs.StringVar(&f.zones, "zones", "", "zone-set GeoJSON file(s), comma-separated (default: the shipped zone sets); use the ingest workers' files")
	fs.StringVar(&f.cors, "cors-origins", "", "CORS allow-list: origins (https://map.example.org) or *, comma-separated; empty = no CORS")
	fs.DurationVar(&f.maxWindow, "max-window", serve.DefaultMaxWindow, "longest from..to window a request may ask for")
	fs.DurationVar(&f.queryTimeout, "query-timeout", serve.DefaultQueryTimeout, "longest a ClickHouse query may run")
	fs.IntVar(&f.bulkQueries, "bulk-queries", serve.DefaultBulkQueries, "bulk queries (week pyramids, area totals) run at once, at a lower ClickHouse priority")
	fs.DurationVar(&f.tileMaxAge, "tile-max-age", serve.DefaultTileMaxAge, "Cache-Control max-age of tiles, and how long tile cells are kept")
	fs.IntVar(&f.cacheBytes, "cache-bytes", serve.DefaultCacheBytes, "bytes of responses kept for their max-age; -1 turns off every cache (responses, tile cells, area totals): a new report then shows as soon as ClickHouse has it")
	fs.StringVar(&f.readTokens, "read-tokens", "", "bearer tokens the read API requires, comma-separated (empty: reads are open); prefer TRUCEWATCH_READ_TOKENS to the command line")
	fs.StringVar(&f.keys, "keys", "", "partner key file: when set, also accept reports at POST /v1/reports and publish them to Kafka")
	f.kafka.register(fs, defaultBrokers, false)
	fs.Int64Var(&f.intake.MaxBodyBytes, "intake-max-body-bytes", intake.DefaultMaxBodyBytes, "largest POST /v1/reports body (413 above)")
	fs.IntVar(&f.intake.MaxItems, "intake-max-items", intake.DefaultMaxItems, "most reports in one POST /v1/reports (413 above)")
	fs.Float64Var(&f.intake.Rate, "intake-rate", intake.DefaultRate, "reports per second each partner may post, sustained (429 above; negative: no limit)")
	fs.IntVar(&f.intake.Burst, "intake-burst", intake.DefaultBurst, "reports a partner may post at once before --intake-rate applies (at least --intake-max-items)")
	fs.DurationVar(&f.intake.PublishTimeout, "intake-publish-timeout", intake.DefaultPublishTimeout, "how long a POST waits for the brokers before a 503")
	fs.Int64Var(&f.intake.MaxInflightBytes, "intake-max-inflight-bytes", intake.DefaultMaxInflightBytes, "request bytes the intake holds at once, all partners together (503 beyond; at least --intake-max-body-bytes; negative: no bound)")
	fs.Int64Var(&f.intake.MaxInflightBytesPerPartner, "intake-max-inflight-bytes-per-partner", intake.DefaultMaxInflightBytesPerPartner, "request bytes the intake holds at once for one partner (429 beyond; at least --intake-max-body-bytes; negative: no bound)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
}

func runServe(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("serve", "[flags]", "Serve the map API: tiles (GeoJSON, MVT), zone and admin choropleths, zone series and\n"+
		"report drill-down from ClickHouse; see /openapi.json. With --keys, also the partner intake.\n"+
		"SIGINT/SIGTERM stops accepting connections and finishes the requests under way.", std)
	var f serveFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, std.err)
	if err != nil {
		return err
	}
	tlsConf, err := f.tlsConfig()
	if err != nil {
		return err
	}
	zones, err := loadZones(splitList(f.zones), log)
	if err != nil {
		return err
	}
	admin, sets := zones.Load().Admin(), zones.Load().ZoneSets()
	store, err := storage.Open(ctx, f.ch.options(log))
	if err != nil {
		return err
	}
	defer store.Close()
	o := serve.Options{
		Store: store, Incidents: store, Admin: admin, ZoneSets: sets,
		AllowOrigins: splitList(f.cors), MaxWindow: f.maxWindow, QueryTimeout: f.queryTimeout, BulkQueries: f.bulkQueries,
		TileMaxAge: f.tileMaxAge, CacheBytes: f.cacheBytes, Logger: log, ReadTokens: splitList(f.readTokens),
	}
	if f.keys != "" {
		pub, err := f.intakeHandler(&o, log)
		if err != nil {
			return err
		}
		defer pub.Close()
	}
	s, err := serve.New(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	log.Info("serving", "addr", ln.Addr().String(), "tls", tlsConf != nil, "database", store.Database(), "zone_sets", len(sets), "intake", o.Intake != nil)
	return serveHTTP(ctx, f.httpServer(ctx, s, tlsConf), ln, 15*time.Second)
}

// intakeHandler sets o.Intake, the partner intake of --keys, and returns
// the publisher it sends to, for the caller to close.
func (f *serveFlags) intakeHandler(o *serve.Options, log *slog.Logger) (*publish.Publisher, error) {
	// A missing file is created empty: the intake then refuses every key
	// until `trucewatch partners add` writes one (it is reloaded).
	keys, err := partners.Create(f.keys)
	if err != nil {
		return nil, err
	}
	keys.SetLogger(log)
	_, transport, err := f.kafka.clients()
	if err != nil {
		return nil, err
	}
	pub := publish.New(publish.Options{Brokers: f.kafka.brokerList(), Topic: f.kafka.topic, Transport: transport})
	io := f.intake
	io.Keys, io.Publisher, io.Logger = keys, pub, log
	if o.Intake, err = intake.New(io); err != nil {
		pub.Close()
		return nil, err
	}
	return pub, nil
}

// httpServer is the HTTP server of h. Requests keep running when ctx ends:
// serveHTTP lets them finish.
func (f *serveFlags) httpServer(ctx context.Context, h http.Handler, tlsConf *tls.Config) *http.Server {
	return &http.Server{
		TLSConfig:         tlsConf,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// tlsConfig is the HTTPS configuration of --tls-cert and --tls-key; nil
// when neither is set.
func (f *serveFlags) tlsConfig() (*tls.Config, error) {
	switch {
	case f.tlsCert == "" && f.tlsKey == "":
		return nil, nil
	case f.tlsCert == "" || f.tlsKey == "":
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}, nil
}
