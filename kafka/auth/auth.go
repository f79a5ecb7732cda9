// Package auth builds the TLS and SASL settings of trucewatch's Kafka
// clients (segmentio/kafka-go): a Dialer for consumers and a Transport for
// producers, from one Options value shared by ingest, produce and the HTTPS
// intake. The zero Options is plain TCP without authentication, which is
// what the in-process broker of the demo speaks.
package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// SASL mechanisms.
const (
	PLAIN       = "PLAIN"
	SCRAMSHA256 = "SCRAM-SHA-256"
	SCRAMSHA512 = "SCRAM-SHA-512"
)

// DefaultDialTimeout bounds connecting (TCP, TLS and SASL) to one broker.
const DefaultDialTimeout = 10 * time.Second

// Options are the security settings of a Kafka client. TLS is switched on
// by TLS or by any of CAFile, CertFile, KeyFile; SASL by SASLMechanism.
type Options struct {
	TLS bool
	// CAFile is a PEM bundle of the CAs that sign the brokers'
	// certificates; empty uses the system roots.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that require mutual TLS. Both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify accepts any broker certificate. For tests only:
	// it gives up the protection TLS exists for.
	InsecureSkipVerify bool
	// SASLMechanism is "", PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	// (case-insensitive). PLAIN sends the password as it is: use it only
	// over TLS.
	SASLMechanism string
	Username      string
	Password      string
}

// RegisterFlags adds the --kafka-* flags that fill o to fs.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.TLS, "kafka-tls", o.TLS, "connect to the brokers with TLS")
	fs.StringVar(&o.CAFile, "kafka-ca", o.CAFile, "PEM file of the CAs that sign the brokers' certificates (implies --kafka-tls; default: system roots)")
	fs.StringVar(&o.CertFile, "kafka-cert", o.CertFile, "PEM client certificate for mutual TLS (implies --kafka-tls)")
	fs.StringVar(&o.KeyFile, "kafka-key", o.KeyFile, "PEM key of --kafka-cert")
	fs.BoolVar(&o.InsecureSkipVerify, "kafka-insecure-skip-verify", o.InsecureSkipVerify, "accept any broker certificate (tests only)")
	fs.StringVar(&o.SASLMechanism, "kafka-sasl", o.SASLMechanism, "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (empty: no SASL)")
	fs.StringVar(&o.Username, "kafka-user", o.Username, "SASL user name")
	fs.StringVar(&o.Password, "kafka-password", o.Password, "SASL password (prefer the environment variable to the command line)")
}

// Enabled reports whether o asks for TLS or SASL.
func (o Options) Enabled() bool { return o.tlsOn() || o.SASLMechanism != "" }

func (o Options) tlsOn() bool {
	return o.TLS || o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || o.InsecureSkipVerify
}

// TLSConfig returns the client TLS configuration, or nil when TLS is off.
func (o Options) TLSConfig() (*tls.Config, error) {
	if !o.tlsOn() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // opt-in, documented as tests only
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka auth: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka auth: CA file %s holds no PEM certificate", o.CAFile)
		}
		c.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka auth: load client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	case o.CertFile != "" || o.KeyFile != "":
		return nil, errors.New("kafka auth: client certificate and key go together: set both or neither")
	}
	return c, nil
}

// Mechanism returns the SASL mechanism, or nil when SASL is off.
func (o Options) Mechanism() (sasl.Mechanism, error) {
	m := strings.ToUpper(strings.TrimSpace(o.SASLMechanism))
	if m == "" {
		if o.Username != "" || o.Password != "" {
			return nil, errors.New("kafka auth: a SASL user or password is set but no SASL mechanism")
		}
		return nil, nil
	}
	if o.Username == "" {
		return nil, fmt.Errorf("kafka auth: SASL %s needs a user name", m)
	}
	switch m {
	case PLAIN:
		return plain.Mechanism{Username: o.Username, Password: o.Password}, nil
	case SCRAMSHA256, SCRAMSHA512:
		algo := scram.SHA256
		if m == SCRAMSHA512 {
			algo = scram.SHA512
		}
		mech, err := scram.Mechanism(algo, o.Username, o.Password)
		if err != nil {
			return nil, fmt.Errorf("kafka auth: %s: %w", m, err)
		}
		return mech, nil
	default:
		return nil, fmt.Errorf("kafka auth: unknown SASL mechanism %q (want %s, %s or %s)", o.SASLMechanism, PLAIN, SCRAMSHA256, SCRAMSHA512)
	}
}

// Dialer returns a kafka-go Dialer (for Readers and consumer groups) with
// o's TLS and SASL settings.
func (o Options) Dialer() (*kafka.Dialer, error) {
	t, m, err := o.build()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: DefaultDialTimeout, DualStack: true, TLS: t, SASLMechanism: m}, nil
}

// Transport returns a kafka-go Transport (for Writers and Clients) with
// o's TLS and SASL settings.
func (o Options) Transport() (*kafka.Transport, error) {
	t, m, err := o.build()
	if err != nil {
		return nil, err
	}
	return &kafka.Transport{DialTimeout: DefaultDialTimeout, TLS: t, SASL: m}, nil
}

func (o Options) build() (*tls.Config, sasl.Mechanism, error) {
	t, err := o.TLSConfig()
	if err != nil {
		return nil, nil, err
	}
	m, err := o.Mechanism()
	if err != nil {
		return nil, nil, err
	}
	return t, m, nil
}
