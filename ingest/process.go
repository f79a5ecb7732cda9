package ingest

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb"
	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/geo"
	"github.com/trucewatch/trucewatch/report"
	"github.com/trucewatch/trucewatch/storage"
)

// Headers on every dead letter. The value is the original message's bytes
// and its key the original key; original headers are kept as well.
const (
	HeaderReason          = "trucewatch.dlq.reason"           // human-readable error
	HeaderRule            = "trucewatch.dlq.rule"             // first rule broken (json, required, range, ...)
	HeaderField           = "trucewatch.dlq.field"            // first field at fault ("" for the whole document)
	HeaderSourceTopic     = "trucewatch.dlq.source.topic"     // where it came from
	HeaderSourcePartition = "trucewatch.dlq.source.partition" //
	HeaderSourceOffset    = "trucewatch.dlq.source.offset"    //
	HeaderWriter          = "trucewatch.dlq.writer"           // host/pid of the worker that wrote it
	// HeaderPartner, on a report message, names the partner when the body
	// has no partner_id (the HTTPS intake sets it).
	HeaderPartner = "trucewatch.partner"
)

// process turns fetched messages into rows and dead letters.
func (in *Ingester) process(topic string, msgs []kafka.Message) ([]storage.Row, []kafka.Message) {
	now := in.o.Now()
	rows := make([]storage.Row, 0, len(msgs))
	var dead []kafka.Message
	var m geo.Match
	for _, msg := range msgs {
		// Everything a row holds derives from the message, never from the
		// clock, so that a redone span writes identical rows: the Kafka
		// timestamp is both the receive time and the bound of observed_at.
		received := msg.Time.UTC().Truncate(time.Second)
		if msg.Time.IsZero() {
			received = now.UTC().Truncate(time.Second)
		}
		r, err := report.Decode(msg.Value, received)
		if err != nil {
			dead = append(dead, deadLetter(topic, msg, err))
			continue
		}
		if r.PartnerID == "" {
			r.PartnerID = header(msg.Headers, HeaderPartner)
		}
		in.match.Match(orb.Point{r.Lon, r.Lat}, r.ObservedAt, r.UncertaintyM(), &m)
		row := Row(&r, &m)
		row.ReceivedAt = received
		if in.classify != nil {
			row.Violation, row.ViolationReason = in.classify.Classify(&r, &m)
		}
		rows = append(rows, row)
	}
	return rows, dead
}

// Row flattens a matched report into the row the store keeps.
func Row(r *report.Report, m *geo.Match) storage.Row {
	row := storage.Row{
		PartnerID:       r.PartnerID,
		ReportID:        r.ID,
		Revision:        r.Revision,
		ObservedAt:      r.ObservedAt,
		ObservedUntil:   r.ObservedUntil,
		TimePrecision:   string(r.TimePrecision),
		Lat:             r.Lat,
		Lon:             r.Lon,
		AccuracyM:       float32(r.AccuracyM),
		GeoPrecision:    string(r.GeoPrecision),
		Category:        string(r.Category),
		PerpetratorName: r.Perpetrator.Name,
		PerpetratorSide: string(r.Perpetrator.Side),
		TargetName:      r.Target.Name,
		TargetSide:      string(r.Target.Side),
		Killed:          r.Killed,
		Injured:         r.Injured,
		Description:     r.Description,
		Sources:         r.Sources,
		ZoneSet:         m.ZoneSet,
		Adm1:            m.Adm1,
		Adm2:            m.Adm2,
		Adm3:            m.Adm3,
		AdmApprox:       m.AdmApprox,
	}
	for _, z := range m.Zones {
		if z.Possible {
			row.PossibleZones = append(row.PossibleZones, z.ID)
		} else {
			row.Zones = append(row.Zones, z.ID)
		}
	}
	return row
}

func deadLetter(topic string, msg kafka.Message, err error) kafka.Message {
	rule, field := "invalid", ""
	var es report.Errors
	if errors.As(err, &es) && len(es) > 0 {
		rule, field = es[0].Rule, es[0].Field
	}
	headers := make([]kafka.Header, 0, len(msg.Headers)+6)
	for _, h := range msg.Headers {
		if !strings.HasPrefix(h.Key, "trucewatch.dlq.") {
			headers = append(headers, h)
		}
	}
	headers = append(headers,
		kafka.Header{Key: HeaderReason, Value: []byte(err.Error())},
		kafka.Header{Key: HeaderRule, Value: []byte(rule)},
		kafka.Header{Key: HeaderField, Value: []byte(field)},
		kafka.Header{Key: HeaderSourceTopic, Value: []byte(topic)},
		kafka.Header{Key: HeaderSourcePartition, Value: []byte(itoa(int64(msg.Partition)))},
		kafka.Header{Key: HeaderSourceOffset, Value: []byte(itoa(msg.Offset))},
		kafka.Header{Key: HeaderWriter, Value: []byte(writerID)},
	)
	return kafka.Message{Key: msg.Key, Value: msg.Value, Headers: headers}
}

// writerID names this process in the dead letters it writes, for operators
// tracing where a letter came from.
var writerID = func() string {
	h, _ := os.Hostname()
	return h + "/" + strconv.Itoa(os.Getpid())
}()

func header(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
