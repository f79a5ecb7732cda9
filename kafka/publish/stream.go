package publish

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/report"
)

// Source yields the messages of a stream: ok is false at its end.
type Source func() (m Message, ok bool, err error)

// Unpaced, Stream keeps StreamLanes writes of StreamChunk messages in
// flight: 5,000 x 4 was the fastest of the settings tried with
// BenchmarkProduceCommand (1,000-10,000 x 2-8).
const (
	StreamChunk = 5000
	StreamLanes = 4
)

// Stream publishes everything src yields, in chunks, and returns how many
// messages the brokers acknowledged. Paced to rate per second when rate >
// 0; otherwise StreamLanes writes are in flight at once, each lane taking
// the keys that hash to it, so that the revisions of one report keep their
// order. An interrupted stream (ctx ended) is not an error: what was
// acknowledged is counted.
func Stream(ctx context.Context, p *Publisher, src Source, rate float64) (int, error) {
	if rate > 0 {
		return streamPaced(ctx, p, src, rate)
	}
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	lanes := make([]chan []Message, StreamLanes)
	for i := range lanes {
		lanes[i] = make(chan []Message, 1)
		g.Go(func() error {
			for chunk := range lanes[i] {
				if err := p.Write(gctx, chunk...); err != nil {
					for range lanes[i] { // drain, so that the reader never blocks
					}
					return err
				}
				sent.Add(int64(len(chunk)))
			}
			return nil
		})
	}
	readErr := fillLanes(gctx, src, lanes)
	err := g.Wait()
	switch {
	case ctx.Err() != nil:
		return int(sent.Load()), nil
	case err != nil:
		return int(sent.Load()), err
	}
	return int(sent.Load()), readErr
}

// fillLanes reads src into chunks, each to the lane of its keys, and
// closes the lanes at the end of src, at a read error or when ctx ends.
func fillLanes(ctx context.Context, src Source, lanes []chan []Message) error {
	defer func() {
		for _, l := range lanes {
			close(l)
		}
	}()
	pending := make([][]Message, len(lanes))
	send := func(lane int) {
		select {
		case lanes[lane] <- pending[lane]:
		case <-ctx.Done():
		}
		pending[lane] = nil
	}
	rr := 0
	for ctx.Err() == nil {
		m, ok, err := src()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		lane := rr % len(lanes)
		if len(m.Key) > 0 {
			lane = int(crc32.ChecksumIEEE(m.Key) % uint32(len(lanes)))
		} else {
			rr++
		}
		if pending[lane] == nil {
			pending[lane] = make([]Message, 0, StreamChunk)
		}
		if pending[lane] = append(pending[lane], m); len(pending[lane]) == StreamChunk {
			send(lane)
		}
	}
	for i := range pending {
		if len(pending[i]) > 0 {
			send(i)
		}
	}
	return nil
}

// streamPaced sends chunks one at a time, paced to rate per second.
func streamPaced(ctx context.Context, p *Publisher, src Source, rate float64) (int, error) {
	sent := 0
	start := time.Now()
	size := max(1, min(StreamChunk, int(rate/20)))
	buf := make([]Message, 0, size)
	for {
		buf = buf[:0]
		var err error
		for len(buf) < size {
			m, ok, e := src()
			if e != nil || !ok {
				err = e
				break
			}
			buf = append(buf, m)
		}
		if len(buf) > 0 {
			if werr := p.Write(ctx, buf...); werr != nil {
				if ctx.Err() != nil {
					return sent, nil
				}
				return sent, werr
			}
			sent += len(buf)
		}
		if err != nil || len(buf) < size {
			return sent, err
		}
		due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		t := time.NewTimer(time.Until(due))
		select {
		case <-ctx.Done():
			t.Stop()
			return sent, nil
		case <-t.C:
		}
	}
}

// NDJSON is a Source of the non-empty lines of r, each keyed by its "id"
// when it has one, sent as they are (valid or not: ingest dead-letters
// what is invalid). A line longer than maxLine is an error.
func NDJSON(r io.Reader, maxLine int) Source {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, min(64<<10, maxLine)), maxLine)
	line := 0
	var arena []byte // the values of many lines share one allocation
	return func() (Message, bool, error) {
		for sc.Scan() {
			line++
			b := sc.Bytes()
			if len(b) == 0 {
				continue
			}
			if cap(arena)-len(arena) < len(b) {
				arena = make([]byte, 0, max(1<<20, len(b)))
			}
			start := len(arena)
			arena = append(arena, b...)
			v := arena[start:len(arena):len(arena)]
			key, _ := report.MessageKey(v)
			return Message{Key: key, Value: v}, true, nil
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return Message{}, false, fmt.Errorf("publish: line %d: longer than %d bytes", line+1, maxLine)
			}
			return Message{}, false, err
		}
		return Message{}, false, nil
	}
}
