package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// writeBreakdown sums the storage timings of `wrote batch` lines (logged
// by storage at debug level: --ingest-log-level debug) in an ingest log.
type writeBreakdown struct {
	Batches                       int
	Ledger, Lookup, Insert, Total time.Duration
	InsertP50, InsertMax          time.Duration
	LookupFirst, LookupLast       time.Duration // mean over the first and last 10% of batches
}

func (b writeBreakdown) String() string {
	if b.Batches == 0 {
		return ""
	}
	return fmt.Sprintf("%d batches; summed over the concurrent partition writers: ledger %.1f s, revision lookup %.1f s, INSERT %.1f s (total %.1f s); INSERT p50 %.2f s, max %.2f s; lookup mean %.2f s in the first tenth of batches, %.2f s in the last",
		b.Batches, b.Ledger.Seconds(), b.Lookup.Seconds(), b.Insert.Seconds(), b.Total.Seconds(),
		b.InsertP50.Seconds(), b.InsertMax.Seconds(), b.LookupFirst.Seconds(), b.LookupLast.Seconds())
}

func parseBreakdown(path string) writeBreakdown {
	var b writeBreakdown
	f, err := os.Open(path)
	if err != nil {
		return b
	}
	defer f.Close()
	var inserts, lookups []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="wrote batch"`) {
			continue
		}
		get := func(key string) time.Duration {
			i := strings.Index(line, " "+key+"=")
			if i < 0 {
				return 0
			}
			v := line[i+len(key)+2:]
			if j := strings.IndexByte(v, ' '); j >= 0 {
				v = v[:j]
			}
			d, _ := time.ParseDuration(v)
			return d
		}
		b.Batches++
		b.Ledger += get("ledger")
		l, in := get("lookup"), get("insert")
		b.Lookup += l
		b.Insert += in
		b.Total += get("total")
		inserts = append(inserts, in)
		lookups = append(lookups, l)
	}
	if n := len(inserts); n > 0 {
		tenth := max(n/10, 1)
		b.LookupFirst, b.LookupLast = mean(lookups[:tenth]), mean(lookups[n-tenth:])
		sort.Slice(inserts, func(i, j int) bool { return inserts[i] < inserts[j] })
		b.InsertP50, b.InsertMax = inserts[n/2], inserts[n-1]
	}
	return b
}

func mean(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s / time.Duration(len(ds))
}
