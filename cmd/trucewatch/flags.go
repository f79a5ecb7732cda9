package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/kafka/auth"
	"github.com/trucewatch/trucewatch/storage"
)

// kafkaFlags are the flags every Kafka client subcommand shares.
type kafkaFlags struct {
	brokers  string
	topic    string
	dlqTopic string
	auth     auth.Options
}

// defaultBrokers is the default --brokers: a broker on this machine.
const defaultBrokers = "127.0.0.1:9092"

func (k *kafkaFlags) register(fs *flag.FlagSet, defaultBrokers string, dlq bool) {
	fs.StringVar(&k.brokers, "brokers", defaultBrokers, "Kafka bootstrap brokers, comma-separated host:port")
	fs.StringVar(&k.topic, "topic", "reports", "topic the reports arrive on")
	if dlq {
		fs.StringVar(&k.dlqTopic, "dlq-topic", "reports.dlq", "dead-letter topic for reports that fail decoding or validation")
	}
	k.auth.RegisterFlags(fs)
}

// clients returns the consumer dialer and the producer transport that carry
// the --kafka-tls/--kafka-sasl settings; both nil for plain TCP.
func (k *kafkaFlags) clients() (*kafka.Dialer, *kafka.Transport, error) {
	if !k.auth.Enabled() {
		return nil, nil, nil
	}
	d, err := k.auth.Dialer()
	if err != nil {
		return nil, nil, err
	}
	t, err := k.auth.Transport()
	return d, t, err
}

func (k *kafkaFlags) brokerList() []string { return splitList(k.brokers) }

// clickhouseFlags are the flags of subcommands that talk to ClickHouse.
type clickhouseFlags struct {
	addr     string
	database string
	user     string
	password string
}

func (c *clickhouseFlags) register(fs *flag.FlagSet, defaultAddr string) {
	fs.StringVar(&c.addr, "clickhouse", defaultAddr, "ClickHouse native protocol address host:port")
	fs.StringVar(&c.database, "database", "trucewatch", "ClickHouse database")
	fs.StringVar(&c.user, "ch-user", "default", "ClickHouse user")
	fs.StringVar(&c.password, "ch-password", "", "ClickHouse password")
}

// openStore opens the store and, with migrate, applies the pending schema
// migrations.
func openStore(ctx context.Context, o storage.Options, migrate bool) (*storage.Store, error) {
	store, err := storage.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := store.Migrate(ctx); err != nil {
			store.Close()
			return nil, err
		}
	}
	return store, nil
}

// options are the storage options of these flags.
func (c *clickhouseFlags) options(log *slog.Logger) storage.Options {
	return storage.Options{Addr: c.addr, Database: c.database, Username: c.user, Password: c.password, Logger: log}
}

// newLogger is the structured logger of a subcommand at a --log-level.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), nil
}

// loadZones loads the admin boundaries and the zone-set files (the shipped
// sets when there are none) into a holder that can swap them at run time.
func loadZones(files []string, log *slog.Logger) (*geo.Holder, error) {
	admin, err := geo.LoadAdmin()
	if err != nil {
		return nil, err
	}
	var base []*geo.ZoneSet
	if len(files) == 0 {
		if base, err = geo.ShippedZoneSets(admin); err != nil {
			return nil, err
		}
	}
	h, err := geo.NewHolder(admin, base, log)
	if err != nil {
		return nil, err
	}
	if len(files) > 0 {
		if _, err := h.Reload(files...); err != nil {
			return nil, fmt.Errorf("--zones: %w", err)
		}
	}
	return h, nil
}

func isStdin(path string) bool { return path == "-" || strings.TrimSpace(path) == "" }
