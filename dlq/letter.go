package dlq

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go"

	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
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
	// A letter cut to fit the topic (see Fit) also carries:
	HeaderTruncated      = "trucewatch.dlq.truncated"       // what was cut: value, headers, key, reason
	HeaderOriginalSize   = "trucewatch.dlq.original.size"   // bytes of the original value
	HeaderOriginalSHA256 = "trucewatch.dlq.original.sha256" // hex SHA-256 of the original value
)

// Make returns the dead letter of msg, read from topic and refused for
// err; writer names the process that writes it. The rule and field are
// err's first report.FieldError ("invalid" and "" for another error).
func Make(topic string, msg kafka.Message, err error, writer string) kafka.Message {
	rule, field := "invalid", ""
	var es report.Errors
	if errors.As(err, &es) && len(es) > 0 {
		rule, field = es[0].Rule, es[0].Field
	}
	headers := make([]kafka.Header, 0, len(msg.Headers)+7)
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
		kafka.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(msg.Partition))},
		kafka.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(msg.Offset, 10))},
		kafka.Header{Key: HeaderWriter, Value: []byte(writer)},
	)
	return kafka.Message{Key: msg.Key, Value: msg.Value, Headers: headers}
}

// SourceOffset is the offset a letter's message had on its source.
func SourceOffset(m kafka.Message) int64 {
	off, _ := strconv.ParseInt(header(m.Headers, HeaderSourceOffset), 10, 64)
	return off
}

// PartitionFor is the index, among n, of the dead-letter partition that
// takes the letters of partition p of topic. All letters of one source
// partition go to one dead-letter partition, in order, so that its tail
// holds the latest ones: that is how a redone batch sees which of its
// letters landed. The reports topic keeps the plain p mod n it always had;
// another topic (a partner's) is spread by its name.
func PartitionFor(reports, topic string, p, n int) int {
	if topic != reports {
		h := fnv.New32a()
		h.Write([]byte(topic))
		p += int(h.Sum32() % uint32(n))
	}
	return p % n
}

// Fit makes a dead letter fit in a record batch of the dead-letter topic
// (limit: publish.MaxRecordBytes of it). A letter is its message plus
// headers, so a message near the broker's limit cannot go as it is: its
// value is cut, and if that is not enough its original headers, its key
// and the reason too, in that order. A cut letter says what was cut, the
// original value's size and its SHA-256, so that an operator can find and
// fetch the original (its source topic, partition and offset stay).
func Fit(m kafka.Message, limit int) kafka.Message {
	if publish.RecordSize(m) <= limit {
		return m
	}
	sum := sha256.Sum256(m.Value)
	var hs, original []kafka.Header
	for _, h := range m.Headers {
		if strings.HasPrefix(h.Key, "trucewatch.dlq.") {
			hs = append(hs, h)
		} else {
			original = append(original, h)
		}
	}
	hs = append(hs,
		kafka.Header{Key: HeaderOriginalSize, Value: []byte(strconv.Itoa(len(m.Value)))},
		kafka.Header{Key: HeaderOriginalSHA256, Value: []byte(hex.EncodeToString(sum[:]))},
		kafka.Header{Key: HeaderTruncated, Value: []byte("value,headers,key,reason")}, // the longest value it can take
	)
	out := kafka.Message{Key: m.Key, Value: m.Value, Headers: append(hs, original...)}
	cut := cutToFit(&out, m.Value, hs, limit)
	for i := range out.Headers {
		if out.Headers[i].Key == HeaderTruncated {
			out.Headers[i].Value = []byte(strings.Join(cut, ","))
		}
	}
	return out
}

// cutToFit cuts out (value, then its original headers, key and reason)
// until it fits, and says what it cut.
func cutToFit(out *kafka.Message, value []byte, own []kafka.Header, limit int) []string {
	over := func() int { return publish.RecordSize(*out) - limit }
	if n := over(); n < len(value) {
		out.Value = value[:len(value)-max(n, 0)]
		return []string{"value"}
	}
	out.Value, out.Headers = nil, own
	cut := []string{"value", "headers"}
	if n := over(); n > 0 {
		out.Key = out.Key[:len(out.Key)-min(n, len(out.Key))]
		cut = append(cut, "key")
	}
	if n := over(); n > 0 {
		for i := range out.Headers {
			if out.Headers[i].Key == HeaderReason {
				v := out.Headers[i].Value
				out.Headers[i].Value = v[:len(v)-min(n, len(v))]
			}
		}
		cut = append(cut, "reason")
	}
	return cut
}

func header(hs []kafka.Header, key string) string {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
