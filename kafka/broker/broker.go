// Package broker runs an in-process Kafka-protocol broker (franz-go's kfake)
// for the demo, the tests and single-machine deployments. Clients speak the
// real Kafka protocol to it over TCP, so everything that works against it
// works against a Kafka cluster.
package broker

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultPartitions is the partition count of the topics the broker creates.
const DefaultPartitions = 6

// Options configure a Broker; the zero value runs one in-memory broker on a
// free loopback port.
type Options struct {
	// Listen is host:port of the first broker; port 0 picks a free one.
	Listen string
	// Brokers is how many brokers the cluster has (default 1); the others
	// listen on free ports.
	Brokers int
	// DataDir persists topics, offsets and the cluster id, so that a
	// restarted broker keeps its data. Empty keeps everything in memory.
	DataDir string
	// Topics are created at start with Partitions partitions each.
	Topics     []string
	Partitions int
	// Users, when set, switch on SASL: every user authenticates with its
	// mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) and ACLs apply.
	Users []User
	// TLS, when set, makes every listener speak TLS.
	TLS    *tls.Config
	Logger *slog.Logger
	// Extra are passed to kfake as they are (fault injection, configs).
	Extra []kfake.Opt
}

// User is a SASL principal. Superusers may do everything; others only what
// their ACLs allow.
type User struct {
	Mechanism string // "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"
	Name      string
	Password  string
	Superuser bool
	ACLs      []kfake.ACL
}

// Broker is a running in-process cluster.
type Broker struct {
	*kfake.Cluster
}

// Start starts the cluster.
func Start(o Options) (*Broker, error) {
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	host, portStr, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("broker: listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("broker: listen port %q: %w", portStr, err)
	}
	if o.Brokers <= 0 {
		o.Brokers = 1
	}
	if o.Partitions <= 0 {
		o.Partitions = DefaultPartitions
	}
	ports := make([]int, o.Brokers)
	ports[0] = port
	opts := []kfake.Opt{
		kfake.Ports(ports...),
		// A fresh cluster gets a random id; a persisted one reloads its own
		// from DataDir. Consumers tie stored offsets to this id, so a wiped
		// broker is never mistaken for the old one.
		kfake.ClusterID(randomID()),
		kfake.DefaultNumPartitions(o.Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, _ := net.SplitHostPort(address)
			return net.Listen(network, net.JoinHostPort(host, p))
		}),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	if len(o.Topics) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(o.Partitions), o.Topics...))
	}
	if len(o.Users) > 0 {
		opts = append(opts, kfake.EnableSASL(), kfake.EnableACLs())
		for _, u := range o.Users {
			if u.Superuser {
				opts = append(opts, kfake.Superuser(u.Mechanism, u.Name, u.Password))
			} else {
				opts = append(opts, kfake.User(u.Mechanism, u.Name, u.Password, u.ACLs...))
			}
		}
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	if o.Logger != nil {
		opts = append(opts, kfake.WithLogger(slogLogger{o.Logger}))
	}
	opts = append(opts, o.Extra...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	return &Broker{Cluster: c}, nil
}

// Addrs returns the brokers' host:port addresses.
func (b *Broker) Addrs() []string { return b.ListenAddrs() }

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// slogLogger adapts kfake's logger to slog; kfake logs at its own levels.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	lv := slog.LevelDebug
	switch level {
	case kfake.LogLevelError:
		lv = slog.LevelError
	case kfake.LogLevelWarn:
		lv = slog.LevelWarn
	case kfake.LogLevelInfo:
		lv = slog.LevelInfo
	}
	s.l.Log(context.Background(), lv, fmt.Sprintf(msg, args...), "component", "broker") //nolint:staticcheck // kfake gives no ctx
}
