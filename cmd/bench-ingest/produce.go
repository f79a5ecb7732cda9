package main

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/trucewatch/trucewatch/internal/synth"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

const (
	topic      = "reports"
	partitions = 6
	chunk      = 5000 // messages per publish.Write
)

// produce publishes n synthetic reports (seed 1, all valid): one goroutine
// generates chunks, two publishers write them. days > 0 narrows observed_at
// to that many days from synth's default start (30 Dec 2016); 0 keeps
// synth's default, a year.
func produce(ctx context.Context, brokerAddr string, n, days int) error {
	g, ctx := errgroup.WithContext(ctx)
	chunks := make(chan []publish.Message, 4)
	g.Go(func() error {
		defer close(chunks)
		feed := synth.New(feedOptions(days))
		for sent := 0; sent < n; {
			k := min(chunk, n-sent)
			msgs := make([]publish.Message, k)
			for i := range msgs {
				m := feed.Next()
				msgs[i] = publish.Message{Key: m.Key, Value: m.Value}
			}
			sent += k
			select {
			case chunks <- msgs:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range 2 {
		g.Go(func() error {
			p := publish.New(publish.Options{Brokers: []string{brokerAddr}, Topic: topic, BatchSize: chunk})
			defer p.Close()
			for msgs := range chunks {
				if err := p.Write(ctx, msgs...); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// feedOptions are the synthetic feed's options for --days.
func feedOptions(days int) synth.Options {
	o := synth.Options{Seed: 1}
	if days > 0 {
		o.From = time.Date(2016, 12, 30, 0, 0, 0, 0, time.UTC)
		o.To = o.From.AddDate(0, 0, days)
	}
	return o
}
