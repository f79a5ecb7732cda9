package auth_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/trucewatch/trucewatch/internal/testcert"
	"github.com/trucewatch/trucewatch/kafka/auth"
	"github.com/trucewatch/trucewatch/kafka/broker"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

const (
	reports = "reports"
	dlq     = "reports.dlq"
	// topic is the partner topic the tests' partners write (ingest takes
	// the partner id from it; see docs/intake.md).
	topic = "reports.partner.field"
)

// partnerACLs are what a deployment grants a partner that streams straight
// to Kafka: write (and the describe it implies) on its own topic only.
func partnerACLs() []kfake.ACL {
	return []kfake.ACL{{
		Resource: kmsg.ACLResourceTypeTopic, Name: topic,
		Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationWrite, Allow: true,
	}}
}

func startBroker(t *testing.T, o broker.Options) *broker.Broker {
	t.Helper()
	o.Topics = []string{reports, dlq, topic}
	o.Partitions = 2
	b, err := broker.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func transport(t *testing.T, o auth.Options) *kafka.Transport {
	t.Helper()
	tr, err := o.Transport()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func produce(ctx context.Context, addr string, tr *kafka.Transport, value string) error {
	p := publish.New(publish.Options{Brokers: []string{addr}, Topic: topic, Transport: tr})
	defer p.Close()
	return p.Write(ctx, publish.Message{Key: []byte(value), Value: []byte(value)})
}

// readAll reads every message of the reports topic as user o.
func readAll(t *testing.T, addr string, o auth.Options, want int) []string {
	t.Helper()
	d, err := o.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for p := range 2 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p, Dialer: d, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				break
			}
			got = append(got, string(m.Value))
		}
		cancel()
		r.Close()
	}
	if len(got) != want {
		t.Fatalf("read %d messages %q, want %d", len(got), got, want)
	}
	return got
}

func TestSASLPartnerCanOnlyWriteItsTopic(t *testing.T) {
	admin := auth.Options{SASLMechanism: auth.SCRAMSHA512, Username: "ingest", Password: "ingest-secret"}
	users := []broker.User{{Mechanism: admin.SASLMechanism, Name: admin.Username, Password: admin.Password, Superuser: true}}
	mechs := []string{auth.PLAIN, auth.SCRAMSHA256, auth.SCRAMSHA512}
	for _, m := range mechs {
		users = append(users, broker.User{Mechanism: m, Name: "partner-" + m, Password: "pw-" + m, ACLs: partnerACLs()})
	}
	b := startBroker(t, broker.Options{Users: users})
	addr := b.Addrs()[0]

	for _, m := range mechs {
		t.Run(m, func(t *testing.T) {
			o := auth.Options{SASLMechanism: m, Username: "partner-" + m, Password: "pw-" + m}
			tr := transport(t, o)
			if err := produce(ctxTimeout(t, 10*time.Second), addr, tr, "from-"+m); err != nil {
				t.Fatalf("partner cannot write its topic: %v", err)
			}
			cl := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr, Timeout: 5 * time.Second}
			ctx := ctxTimeout(t, 10*time.Second)

			fr, err := cl.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: 0, Offset: 0, MaxBytes: 1 << 20})
			if err != nil || !errors.Is(fr.Error, kafka.TopicAuthorizationFailed) {
				t.Errorf("partner reads its topic: err = %v, %v, want TopicAuthorizationFailed", err, respErr(fr))
			}
			if err := writeDirect(ctx, o, addr, reports); !errors.Is(err, kafka.TopicAuthorizationFailed) {
				t.Errorf("partner writes the trusted reports topic: err = %v, want TopicAuthorizationFailed", err)
			}
			if err := writeDirect(ctx, o, addr, dlq); !errors.Is(err, kafka.TopicAuthorizationFailed) {
				t.Errorf("partner writes the dead-letter topic: err = %v, want TopicAuthorizationFailed", err)
			}
			if err := writeDirect(ctx, o, addr, topic); err != nil {
				t.Errorf("partner writes its topic through the Dialer: %v", err)
			}
			cr, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "partner-made", NumPartitions: 1, ReplicationFactor: 1}}})
			if err != nil || !errors.Is(cr.Errors["partner-made"], kafka.TopicAuthorizationFailed) && !errors.Is(cr.Errors["partner-made"], kafka.ClusterAuthorizationFailed) {
				t.Errorf("partner creates topics: err = %v, %v, want an authorization error", err, cr)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		tr := transport(t, auth.Options{SASLMechanism: auth.SCRAMSHA256, Username: "partner-" + auth.SCRAMSHA256, Password: "guess"})
		cl := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr, Timeout: 5 * time.Second}
		if _, err := cl.Metadata(ctxTimeout(t, 10*time.Second), &kafka.MetadataRequest{Topics: []string{topic}}); err == nil {
			t.Fatal("a wrong password authenticates")
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		cl := &kafka.Client{Addr: kafka.TCP(addr), Transport: transport(t, auth.Options{}), Timeout: 3 * time.Second}
		if _, err := cl.Metadata(ctxTimeout(t, 10*time.Second), &kafka.MetadataRequest{Topics: []string{topic}}); err == nil {
			t.Fatal("an unauthenticated client gets metadata")
		}
	})

	// The service user (ingest) reads what the partners wrote, through
	// the Dialer.
	readAll(t, addr, admin, 2*len(mechs))
}

// writeDirect sends a produce request for partition 0 of topic straight to
// the broker, without the metadata lookup that would hide the topic.
func writeDirect(ctx context.Context, o auth.Options, addr, topic string) error {
	d, err := o.Dialer()
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	conn, err := d.DialPartition(ctx, "tcp", addr, kafka.Partition{Topic: topic, ID: 0, Leader: kafka.Broker{Host: host, Port: p, ID: 0}})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = conn.WriteMessages(kafka.Message{Value: []byte("written by " + o.Username)})
	return err
}

func TestTLSListener(t *testing.T) {
	cert := testcert.New(t)
	serverCert, caFile := cert.TLS, cert.CertFile
	b := startBroker(t, broker.Options{
		TLS: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
		Users: []broker.User{
			{Mechanism: auth.SCRAMSHA512, Name: "ingest", Password: "s1", Superuser: true},
			{Mechanism: auth.SCRAMSHA256, Name: "partner", Password: "s2", ACLs: partnerACLs()},
		},
	})
	addr := b.Addrs()[0]

	partner := auth.Options{CAFile: caFile, SASLMechanism: auth.SCRAMSHA256, Username: "partner", Password: "s2"}
	if err := produce(ctxTimeout(t, 10*time.Second), addr, transport(t, partner), "over-tls"); err != nil {
		t.Fatalf("TLS + SCRAM produce: %v", err)
	}
	got := readAll(t, addr, auth.Options{CAFile: caFile, SASLMechanism: auth.SCRAMSHA512, Username: "ingest", Password: "s1"}, 1)
	if got[0] != "over-tls" {
		t.Fatalf("read %q", got)
	}

	// Without the CA the broker's certificate is not trusted.
	untrusted := partner
	untrusted.CAFile, untrusted.TLS = "", true
	cl := &kafka.Client{Addr: kafka.TCP(addr), Transport: transport(t, untrusted), Timeout: 3 * time.Second}
	_, err := cl.Metadata(ctxTimeout(t, 10*time.Second), &kafka.MetadataRequest{Topics: []string{topic}})
	var unknown x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &unknown) {
		t.Fatalf("untrusted certificate: err = %v, want x509.UnknownAuthorityError", err)
	}
	// Plain TCP to a TLS listener fails too.
	plain := auth.Options{SASLMechanism: auth.SCRAMSHA256, Username: "partner", Password: "s2"}
	cl = &kafka.Client{Addr: kafka.TCP(addr), Transport: transport(t, plain), Timeout: 3 * time.Second}
	if _, err := cl.Metadata(ctxTimeout(t, 10*time.Second), &kafka.MetadataRequest{Topics: []string{topic}}); err == nil {
		t.Fatal("plain TCP talks to the TLS listener")
	}
}

func TestOptionsErrors(t *testing.T) {
	for name, o := range map[string]auth.Options{
		"unknown mechanism": {SASLMechanism: "GSSAPI", Username: "u"},
		"no user":           {SASLMechanism: auth.PLAIN},
		"user without sasl": {Username: "u", Password: "p"},
		"cert without key":  {CertFile: "c.pem"},
		"missing CA":        {CAFile: "/nonexistent/ca.pem"},
	} {
		if _, err := o.Transport(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	tr, err := auth.Options{}.Transport()
	if err != nil || tr.TLS != nil || tr.SASL != nil {
		t.Fatalf("zero options: %+v, %v", tr, err)
	}
	d, err := auth.Options{SASLMechanism: "scram-sha-512", Username: "u", Password: "p"}.Dialer()
	if err != nil || d.SASLMechanism.Name() != auth.SCRAMSHA512 {
		t.Fatalf("lower-case mechanism: %v", err)
	}
}

func respErr(r *kafka.FetchResponse) error {
	if r == nil {
		return nil
	}
	return r.Error
}
