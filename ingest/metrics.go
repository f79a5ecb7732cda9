package ingest

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the ingest worker's Prometheus series. They mirror Stats,
// with labels where an operator needs to tell causes apart.
type metrics struct {
	consumed      prometheus.Counter
	inserted      prometheus.Counter
	retracted     prometheus.Counter
	duplicates    prometheus.Counter
	stale         prometheus.Counter
	deadLettered  *prometheus.CounterVec // by rule
	forwarded     prometheus.Counter
	retries       *prometheus.CounterVec // by operation
	batchSize     prometheus.Histogram
	insertLatency prometheus.Histogram
	lag           *prometheus.GaugeVec // by partition
	inFlight      prometheus.Gauge
	redos         prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		consumed:     prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_consumed_total", Help: "Messages read from the reports topic."}),
		inserted:     prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_inserted_total", Help: "Reports stored as new or as a higher revision."}),
		retracted:    prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_revisions_total", Help: "Earlier revisions replaced by a correction."}),
		duplicates:   prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_duplicates_total", Help: "Repeated deliveries of a report revision already stored (counted once)."}),
		stale:        prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_stale_revisions_total", Help: "Revisions older than the one stored (ignored)."}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trucewatch_ingest_dead_lettered_total", Help: "Messages sent to the dead-letter topic, by broken rule."}, []string{"reason"}),
		forwarded:    prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_forwarded_total", Help: "Reports sent on to their home partition of the reports topic (misrouted, or from a partner topic)."}),
		retries:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "trucewatch_ingest_retries_total", Help: "Failed operations retried with backoff."}, []string{"op"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trucewatch_ingest_batch_messages", Help: "Messages per written batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		insertLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "trucewatch_ingest_insert_seconds", Help: "Time the store took to write one batch (with the other partitions' batches written with it), retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}),
		lag:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "trucewatch_ingest_lag_messages", Help: "Messages behind the end of each assigned partition."}, []string{"topic", "partition"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "trucewatch_ingest_in_flight_messages", Help: "Messages fetched but not yet written."}),
		redos:    prometheus.NewCounter(prometheus.CounterOpts{Name: "trucewatch_ingest_redone_batches_total", Help: "Interrupted batches written again over the same offsets."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.consumed, m.inserted, m.retracted, m.duplicates, m.stale, m.deadLettered, m.forwarded, m.retries,
			m.batchSize, m.insertLatency, m.lag, m.inFlight, m.redos} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("ingest: metrics: %w", err)
			}
		}
	}
	return m, nil
}

func partLabel(p int) string { return strconv.Itoa(p) }
