package intake

import (
	"io"
	"sync"
)

// budgetError is a request refused for the bytes in flight.
type budgetError string

func (e budgetError) Error() string { return string(e) }

const (
	errBudget        = budgetError("intake: over the bytes in flight")
	errPartnerBudget = budgetError("intake: over the partner's bytes in flight")
)

// budget bounds the request bytes held at once, in all and per partner.
// A bound <= 0 is off.
type budget struct {
	max, perPartner int64

	mu    sync.Mutex
	total int64
	used  map[string]int64
}

// acquire holds n bytes for partner, or returns errPartnerBudget or
// errBudget and holds nothing.
func (b *budget) acquire(partner string, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.perPartner > 0 && b.used[partner]+n > b.perPartner {
		return errPartnerBudget
	}
	if b.max > 0 && b.total+n > b.max {
		return errBudget
	}
	b.used[partner] += n
	b.total += n
	return nil
}

func (b *budget) release(partner string, n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total -= n
	if b.used[partner] -= n; b.used[partner] <= 0 {
		delete(b.used, partner)
	}
}

// heldStep is how much more a body without a Content-Length holds each
// time it outgrows what it holds.
const heldStep = 64 << 10

// heldReader reads a body of unknown length, holding budget for its bytes
// as they arrive; *held is what it holds.
type heldReader struct {
	r       io.Reader
	b       *budget
	partner string
	held    *int64
	limit   int64 // MaxBodyBytes: never held beyond
	read    int64
}

func (hr *heldReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	if err != nil && err != io.EOF {
		return n, err // over MaxBodyBytes, or a broken connection
	}
	hr.read += int64(n)
	if hr.read > *hr.held {
		need := hr.read - *hr.held
		step := max(need, min(heldStep, hr.limit-*hr.held))
		if e := hr.b.acquire(hr.partner, step); e != nil {
			return n, e
		}
		*hr.held += step
	}
	return n, err
}
