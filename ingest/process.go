package ingest

import (
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/dlq"
	"github.com/trucewatch/trucewatch/enrich"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
)

// Headers of report messages (see also report.HeaderPartner).
const (
	// HeaderForwardedFrom, on a report ingest forwarded to its home
	// partition, is where it was first read ("topic/partition/offset").
	HeaderForwardedFrom = "trucewatch.forwarded-from"
)

// route says what a partition's messages are and where a valid one
// belongs.
type route struct {
	topic string // the Kafka topic the messages come from
	// partner is the partner a partner topic belongs to; "" for the
	// reports topic, where trusted producers write.
	partner string
	// partitions of the reports topic, to tell which partition a report
	// id belongs to (murmur2 of the id, as every producer must send it).
	partitions []int
	partition  int // the partition the messages come from
}

// processed is a batch sorted out: rows to store, dead letters, and valid
// reports that belong on another partition or topic.
type processed struct {
	rows    []storage.Row
	dead    []kafka.Message
	forward []kafka.Message
}

// process turns fetched messages into rows, dead letters and forwards.
//
// A report on the reports topic is stored only by the partition its id
// hashes to, so that every revision of it is decided by one writer in
// offset order; one on another partition (a producer with another
// partitioner, a key that is not the id, no key) is forwarded there.
// Everything on a partner topic is forwarded to the reports topic with the
// topic's partner id, once the body is known not to name another partner.
func (in *Ingester) process(rt route, msgs []kafka.Message) processed {
	now := in.o.Now()
	out := processed{rows: make([]storage.Row, 0, len(msgs))}
	e := enrich.New(in.match, in.classify)
	for _, msg := range msgs {
		// Everything a row holds derives from the message, never from the
		// clock, so that a redone span writes identical rows: the Kafka
		// timestamp is both the receive time and the bound of observed_at.
		received := msg.Time.UTC().Truncate(time.Second)
		if msg.Time.IsZero() {
			received = now.UTC().Truncate(time.Second)
		}
		r, err := report.Decode(msg.Value, received)
		if err == nil {
			err = partnerOf(rt, &r, msg.Headers)
		}
		if err == nil { // a link to itself, now that the partner is known
			err = report.CheckIncidentOf(&r)
		}
		if err != nil {
			out.dead = append(out.dead, dlq.Make(rt.topic, msg, err, in.o.WriterID))
			continue
		}
		if rt.partner != "" || homePartition(r.ID, rt.partitions) != rt.partition {
			out.forward = append(out.forward, forwardFrom(rt, msg, r.ID, now))
			continue
		}
		out.rows = append(out.rows, e.Row(&r, received))
	}
	return out
}

// partnerOf sets the report's partner id and checks it. On a partner
// topic the topic decides, and a body or header naming anyone else is
// refused; on the reports topic the body's partner_id, else the
// trucewatch.partner header, must be a valid id.
func partnerOf(rt route, r *report.Report, hs []kafka.Header) error {
	h := header(hs, report.HeaderPartner)
	if rt.partner != "" {
		if !report.ValidPartnerID(rt.partner) {
			return report.Errors{{Field: "partner_id", Rule: "partner",
				Msg: fmt.Sprintf("topic %s does not name a valid partner id (%s, at most %d characters)", rt.topic, report.PartnerIDPattern, report.MaxPartnerIDLen)}}
		}
		if r.PartnerID != "" && r.PartnerID != rt.partner {
			return report.Errors{{Field: "partner_id", Rule: "partner",
				Msg: fmt.Sprintf("topic %s belongs to partner %q; the report names %q", rt.topic, rt.partner, r.PartnerID)}}
		}
		if h != "" && h != rt.partner {
			return report.Errors{{Field: report.HeaderPartner, Rule: "partner",
				Msg: fmt.Sprintf("topic %s belongs to partner %q; the header names %q", rt.topic, rt.partner, clipHeader(h))}}
		}
		r.PartnerID = rt.partner
		return nil
	}
	if r.PartnerID != "" {
		return nil // Decode checked it
	}
	if h == "" {
		return report.Errors{{Field: "partner_id", Rule: "required",
			Msg: "no partner_id in the body and no " + report.HeaderPartner + " header"}}
	}
	if !report.ValidPartnerID(h) {
		return report.Errors{{Field: report.HeaderPartner, Rule: "format",
			Msg: fmt.Sprintf("must match %s, at most %d characters; got %q", report.PartnerIDPattern, report.MaxPartnerIDLen, clipHeader(h))}}
	}
	r.PartnerID = h
	return nil
}

func clipHeader(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// homePartition is the partition of the reports topic a report id belongs
// to: murmur2 of the id, as the Java client and package publish send it.
// Without a partition list every partition is home.
func homePartition(id string, partitions []int) int {
	if len(partitions) == 0 {
		return -1
	}
	return kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte(id)}, partitions...)
}

// forwardFrom is msg as it goes on to the reports topic: keyed by the
// report id, with the partner id a partner topic gives it, and where it
// came from. A forward repeated after a crash is harmless: the same
// partner, id and revision count once.
func forwardFrom(rt route, msg kafka.Message, id string, now time.Time) kafka.Message {
	hs := make([]kafka.Header, 0, len(msg.Headers)+2)
	for _, h := range msg.Headers {
		if h.Key != HeaderForwardedFrom && (rt.partner == "" || h.Key != report.HeaderPartner) {
			hs = append(hs, h)
		}
	}
	if rt.partner != "" {
		hs = append(hs, kafka.Header{Key: report.HeaderPartner, Value: []byte(rt.partner)})
	}
	hs = append(hs, kafka.Header{Key: HeaderForwardedFrom, Value: []byte(rt.topic + "/" + itoa(int64(msg.Partition)) + "/" + itoa(msg.Offset))})
	// The timestamp bounds observed_at. A trusted producer's stands; a
	// partner's may not be later than now, so that a partner cannot stamp
	// its way past the "not in the future" rule.
	t := msg.Time
	if rt.partner != "" && (t.IsZero() || t.After(now)) {
		t = now
	}
	return kafka.Message{Key: []byte(id), Value: msg.Value, Headers: hs, Time: t}
}

func header(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
