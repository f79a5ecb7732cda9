package main

import (
	"flag"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafkaauth"
)

// kafkaFlags are the flags every Kafka client subcommand shares.
type kafkaFlags struct {
	brokers  string
	topic    string
	dlqTopic string
	auth     kafkaauth.Options
}

func (k *kafkaFlags) register(fs *flag.FlagSet, dlq bool) {
	fs.StringVar(&k.brokers, "brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated host:port")
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

func isStdin(path string) bool { return path == "-" || strings.TrimSpace(path) == "" }
