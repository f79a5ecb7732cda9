package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/trucewatch/trucewatch/kafka/broker"
)

func runBroker(ctx context.Context, args []string, std stdio) error {
	fs := newFlags("broker", "[flags]", "Run the embedded Kafka-protocol broker (franz-go kfake) until interrupted.\nIts listen address is the first line of stdout.", std)
	listen := fs.String("listen", "127.0.0.1:9092", "host:port to listen on (port 0 picks a free one)")
	dataDir := fs.String("data-dir", "var/kafka", "directory that persists topics and offsets across restarts (empty: memory only)")
	partitions := fs.Int("partitions", broker.DefaultPartitions, "partitions of the topics it creates")
	topics := fs.String("topics", "reports,reports.dlq", "topics to create at start, comma-separated")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, err := broker.Start(broker.Options{Listen: *listen, DataDir: *dataDir, Partitions: *partitions, Topics: splitList(*topics)})
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintln(std.out, strings.Join(b.Addrs(), ","))
	fmt.Fprintf(std.err, "broker listening on %s (data %q); Ctrl-C stops it\n", strings.Join(b.Addrs(), ","), *dataDir)
	<-ctx.Done()
	return nil
}
