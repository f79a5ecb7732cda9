package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"golang.org/x/time/rate"

	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/kafka/publish"
	"github.com/trucewatch/trucewatch/report"
)

// Defaults of Options. Every limit is per request except Rate and Burst,
// which are per partner.
const (
	// DefaultMaxBodyBytes bounds a request body (413 above it).
	DefaultMaxBodyBytes = 8 << 20
	// DefaultMaxItems bounds the reports in one request (413 above it).
	DefaultMaxItems = 1000
	// DefaultRate is the sustained reports per second of one partner;
	// DefaultBurst how many it may send at once after a quiet spell
	// (429 beyond them). Burst must be at least MaxItems.
	DefaultRate  = 100
	DefaultBurst = 2000
	// DefaultPublishTimeout bounds the wait for the brokers'
	// acknowledgement of one request's reports (503 after it).
	DefaultPublishTimeout = 15 * time.Second
	// DefaultRetryAfter is the Retry-After of a 503.
	DefaultRetryAfter = 5 * time.Second
	// DefaultMaxInflightBytes bounds the request bytes held at once, all
	// partners together (503 + Retry-After beyond it);
	// DefaultMaxInflightBytesPerPartner those of one partner (429 +
	// Retry-After). A request holds its announced Content-Length from
	// before its first byte is read until it is answered; a body without
	// one holds what has arrived so far. Both must be at least
	// MaxBodyBytes. The process holds about twice this at most: the
	// bodies and the messages cut from them.
	DefaultMaxInflightBytes           = 128 << 20
	DefaultMaxInflightBytesPerPartner = 32 << 20
)

// Path is where serve mounts the Handler.
const Path = "/v1/reports"

// Media types of request bodies.
const (
	ContentTypeJSON   = "application/json"     // one report object, or an array of them
	ContentTypeNDJSON = "application/x-ndjson" // one report object per line
)

// Publisher puts messages on the reports topic; Write returns nil only
// when every message is acknowledged. *publish.Publisher is one.
type Publisher interface {
	Write(ctx context.Context, msgs ...publish.Message) error
}

var _ Publisher = (*publish.Publisher)(nil)

// Options configure a Handler. Keys and Publisher are required; zero
// values of the others take the defaults above.
type Options struct {
	Keys      *partners.Keys
	Publisher Publisher
	// MaxBodyBytes bounds a request body; MaxItems the reports in it.
	MaxBodyBytes int64
	MaxItems     int
	// Rate is the sustained reports per second of one partner and Burst
	// its bucket size (at least MaxItems). A negative Rate switches the
	// limit off.
	Rate  float64
	Burst int
	// PublishTimeout bounds the wait for the brokers; RetryAfter is what
	// a 503 asks the partner to wait.
	PublishTimeout time.Duration
	RetryAfter     time.Duration
	// MaxInflightBytes bounds the request bytes held at once by every
	// partner together (503 beyond it), MaxInflightBytesPerPartner by
	// one partner (429 beyond it); both at least MaxBodyBytes. Negative
	// switches a bound off.
	MaxInflightBytes           int64
	MaxInflightBytesPerPartner int64
	// Now is the clock that bounds observed_at and drives the rate
	// limits (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

func (o *Options) setDefaults() error {
	if o.Keys == nil {
		return errors.New("intake: no partner keys")
	}
	if o.Publisher == nil {
		return errors.New("intake: no publisher")
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxItems == 0 {
		o.MaxItems = DefaultMaxItems
	}
	if o.MaxBodyBytes < 0 || o.MaxItems < 0 {
		return fmt.Errorf("intake: negative limit (max body %d bytes, max items %d)", o.MaxBodyBytes, o.MaxItems)
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Burst == 0 {
		o.Burst = max(DefaultBurst, o.MaxItems)
	}
	if o.Rate > 0 && o.Burst < o.MaxItems {
		return fmt.Errorf("intake: burst %d is below max items %d: a full request could never pass the rate limit", o.Burst, o.MaxItems)
	}
	if o.MaxInflightBytes == 0 {
		o.MaxInflightBytes = max(DefaultMaxInflightBytes, o.MaxBodyBytes)
	}
	if o.MaxInflightBytesPerPartner == 0 {
		o.MaxInflightBytesPerPartner = max(DefaultMaxInflightBytesPerPartner, o.MaxBodyBytes)
	}
	for name, b := range map[string]int64{"max in-flight bytes": o.MaxInflightBytes, "max in-flight bytes per partner": o.MaxInflightBytesPerPartner} {
		if b > 0 && b < o.MaxBodyBytes {
			return fmt.Errorf("intake: %s %d is below max body %d bytes: a full request could never pass it", name, b, o.MaxBodyBytes)
		}
	}
	if o.PublishTimeout <= 0 {
		o.PublishTimeout = DefaultPublishTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Handler serves POST /v1/reports. See the package documentation.
type Handler struct {
	o Options

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	inflight *budget

	requests, accepted, rejected, unauthorized, throttled, tooLarge, failed, busy atomic.Int64
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler.
func New(o Options) (*Handler, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	inflight := &budget{max: o.MaxInflightBytes, perPartner: o.MaxInflightBytesPerPartner, used: map[string]int64{}}
	return &Handler{o: o, limiters: map[string]*rate.Limiter{}, inflight: inflight}, nil
}

// Stats are running totals since New.
type Stats struct {
	Requests      int64 // every request
	Accepted      int64 // reports produced and acknowledged
	Rejected      int64 // reports that failed validation
	Unauthorized  int64 // requests without a valid key (401)
	Throttled     int64 // requests over a partner's rate (429)
	TooLarge      int64 // requests over the body or item limit (413)
	PublishFailed int64 // requests whose reports the brokers did not take (503)
	Busy          int64 // requests over the bytes in flight (503 for all partners, 429 for one)
}

// Stats returns the running totals.
func (h *Handler) Stats() Stats {
	return Stats{
		Requests: h.requests.Load(), Accepted: h.accepted.Load(), Rejected: h.rejected.Load(),
		Unauthorized: h.unauthorized.Load(), Throttled: h.throttled.Load(), TooLarge: h.tooLarge.Load(),
		PublishFailed: h.failed.Load(), Busy: h.busy.Load(),
	}
}

// Response is the body of a 202 (some reports accepted) or of a 400 that
// rejected every report; the 400 also has Error, as every error answer.
type Response struct {
	Error     *ProblemDetail `json:"error,omitempty"` // on a 400 only
	PartnerID string         `json:"partner_id"`      // from the API key; on every accepted report
	Accepted  []Accepted     `json:"accepted"`
	Rejected  []Rejected     `json:"rejected"`
}

// Accepted is a report now on the reports topic.
type Accepted struct {
	Index    int    `json:"index"` // 0-based position in the request
	ID       string `json:"id"`
	Revision uint32 `json:"revision"`
}

// Rejected is a report that failed validation, with every field at fault.
type Rejected struct {
	Index  int                 `json:"index"`          // 0-based position in the request
	Line   int                 `json:"line,omitempty"` // 1-based line of an NDJSON body
	ID     string              `json:"id,omitempty"`   // when the item has a readable id
	Errors []report.FieldError `json:"errors"`
}

// Problem is the body of every other error response: the shape of every
// error of trucewatch serve.
type Problem struct {
	Error ProblemDetail `json:"error"`
}

// ProblemDetail says what went wrong.
type ProblemDetail struct {
	Status  int    `json:"status"`          // the HTTP status
	Param   string `json:"param,omitempty"` // the part of the request at fault, when one is
	Message string `json:"message"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	partner, kind, ok := h.admit(w, r)
	if !ok {
		return
	}
	log := h.o.Logger.With("partner", partner)
	// The bytes of the body are held from before the first one arrives
	// (the announced length) or as they arrive (no length), and given
	// back once the request is answered.
	var held int64
	defer func() { h.inflight.release(partner, held) }()
	body, ok := h.readRequest(w, r, partner, &held, log)
	if !ok {
		return
	}
	items, ok := h.splitBody(w, kind, body)
	if !ok {
		return
	}
	now := h.o.Now()
	res, ok := h.reserve(w, partner, len(items), now)
	if !ok {
		return
	}
	resp, msgs, arena := h.decode(partner, items, now)
	if err := h.publishAll(r.Context(), msgs); err != nil {
		// Nothing is reported as accepted: the partner retries the whole
		// request, and whatever part of it did land is counted once (same
		// partner_id, id and revision).
		res.CancelAt(now)
		h.publishFailed(w, len(msgs), err, log)
		return
	}
	putBuffer(body)
	putBuffer(arena)
	h.respond(w, resp, log)
}

// admit checks what can be checked before the body is read: the method,
// the key, the media type and the announced length. It answers the
// request when it refuses it (ok false).
func (h *Handler) admit(w http.ResponseWriter, r *http.Request) (partner string, k kind, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		problem(w, http.StatusMethodNotAllowed, "method", "use POST")
		return "", k, false
	}
	partner, ok = h.authenticate(r)
	if !ok {
		h.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer realm="trucewatch", error="invalid_token"`)
		problem(w, http.StatusUnauthorized, "Authorization", "missing, unknown or revoked API key (Authorization: Bearer KEY)")
		return "", k, false
	}
	k, ok = mediaKind(r.Header.Get("Content-Type"))
	if !ok {
		problem(w, http.StatusUnsupportedMediaType, "Content-Type", "Content-Type must be "+ContentTypeJSON+" (a report or an array of reports) or "+ContentTypeNDJSON+" (one report per line)")
		return "", k, false
	}
	if r.ContentLength > h.o.MaxBodyBytes {
		h.tooLarge.Add(1)
		problem(w, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("body is %d bytes, the limit is %d: split it into several requests", r.ContentLength, h.o.MaxBodyBytes))
		return "", k, false
	}
	return partner, k, true
}

// readRequest reads the body within the size limit and the bytes in
// flight, adding what it holds of the budget to *held. It answers the
// request when it cannot (ok false).
func (h *Handler) readRequest(w http.ResponseWriter, r *http.Request, partner string, held *int64, log *slog.Logger) ([]byte, bool) {
	var rd io.Reader = http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes)
	if r.ContentLength > 0 {
		if err := h.inflight.acquire(partner, r.ContentLength); err != nil {
			h.overBudget(w, err)
			return nil, false
		}
		*held = r.ContentLength
	} else {
		rd = &heldReader{r: rd, b: h.inflight, partner: partner, held: held, limit: h.o.MaxBodyBytes}
	}
	body, err := readBody(rd, r.ContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		var be budgetError
		if errors.As(err, &be) {
			h.overBudget(w, be)
			return nil, false
		}
		if errors.As(err, &mbe) {
			h.tooLarge.Add(1)
			problem(w, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("body is over the limit of %d bytes: split it into several requests", h.o.MaxBodyBytes))
			return nil, false
		}
		log.Debug("intake: read body", "err", err)
		problem(w, http.StatusBadRequest, "body", "could not read the request body")
		return nil, false
	}
	return body, true
}

// splitBody cuts the body into its reports, answering the request when
// it cannot (ok false).
func (h *Handler) splitBody(w http.ResponseWriter, k kind, body []byte) ([]item, bool) {
	items, err := split(k, body, h.o.MaxItems)
	switch {
	case errors.Is(err, errTooMany):
		h.tooLarge.Add(1)
		problem(w, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("more than %d reports in one request: split it into several requests", h.o.MaxItems))
		return nil, false
	case err != nil:
		problem(w, http.StatusBadRequest, "body", err.Error())
		return nil, false
	}
	return items, true
}

// reserve takes n reports from the partner's rate, answering 429 when it
// is over (ok false).
func (h *Handler) reserve(w http.ResponseWriter, partner string, n int, now time.Time) (*rate.Reservation, bool) {
	res := h.limiter(partner).ReserveN(now, n)
	if !res.OK() || res.DelayFrom(now) > 0 {
		wait := h.o.RetryAfter
		if res.OK() {
			wait = res.DelayFrom(now)
			res.CancelAt(now)
		}
		h.throttled.Add(1)
		w.Header().Set("Retry-After", seconds(wait))
		problem(w, http.StatusTooManyRequests, "", fmt.Sprintf("over the rate of %g reports per second (burst %d) of this partner; retry after %s seconds", h.o.Rate, h.o.Burst, seconds(wait)))
		return nil, false
	}
	return res, true
}

// publishAll writes the valid reports, waiting at most PublishTimeout
// for their acknowledgement.
func (h *Handler) publishAll(ctx context.Context, msgs []publish.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.o.PublishTimeout)
	defer cancel()
	return h.o.Publisher.Write(ctx, msgs...)
}

// publishFailed answers a request whose reports could not be published.
func (h *Handler) publishFailed(w http.ResponseWriter, n int, err error, log *slog.Logger) {
	h.failed.Add(1)
	log.Warn("intake: publish failed; request refused with 503", "reports", n, "err", err)
	w.Header().Set("Retry-After", seconds(h.o.RetryAfter))
	problem(w, http.StatusServiceUnavailable, "", "the reports could not be stored right now and none of this request was accepted; retry the same request later")
}

// respond counts and writes the answer: 202, or 400 when no report is
// valid.
func (h *Handler) respond(w http.ResponseWriter, resp Response, log *slog.Logger) {
	h.accepted.Add(int64(len(resp.Accepted)))
	h.rejected.Add(int64(len(resp.Rejected)))
	log.Debug("intake: request", "accepted", len(resp.Accepted), "rejected", len(resp.Rejected))
	status := http.StatusAccepted
	if len(resp.Accepted) == 0 {
		status = http.StatusBadRequest
		resp.Error = &ProblemDetail{Status: status, Param: "body", Message: "no report of the request is valid; see rejected for each one's errors"}
	}
	writeJSON(w, status, resp)
}

// overBudget answers a request refused for the bytes in flight.
func (h *Handler) overBudget(w http.ResponseWriter, err error) {
	h.busy.Add(1)
	w.Header().Set("Retry-After", seconds(h.o.RetryAfter))
	if errors.Is(err, errPartnerBudget) {
		problem(w, http.StatusTooManyRequests, "", fmt.Sprintf("this partner's requests under way hold %d bytes, the most allowed; retry after %s seconds", h.o.MaxInflightBytesPerPartner, seconds(h.o.RetryAfter)))
		return
	}
	problem(w, http.StatusServiceUnavailable, "", "the server is taking as many request bytes as it can hold; retry the same request later")
}

// buffers recycles request bodies and the arenas of their messages. A
// buffer goes back only once the brokers acknowledged its messages (or
// none were sent): after a failed or timed-out write the producer may
// still hold them.
var buffers sync.Pool

// maxPooled bounds the buffers kept, so that one huge request does not pin
// its memory.
const maxPooled = 1 << 20

func getBuffer(size int) []byte {
	if p, ok := buffers.Get().(*[]byte); ok && cap(*p) >= size {
		return (*p)[:0]
	} else if ok {
		buffers.Put(p)
	}
	return make([]byte, 0, size)
}

func putBuffer(b []byte) {
	if cap(b) > 0 && cap(b) <= maxPooled {
		b = b[:0]
		buffers.Put(&b)
	}
}

// readBody reads the whole body; with a Content-Length (already checked
// against the limit) into one buffer of that size instead of a growing one.
func readBody(body io.Reader, length int64) ([]byte, error) {
	if length <= 0 {
		return io.ReadAll(body)
	}
	buf := getBuffer(int(length) + 1)[:length+1] // +1: a body longer than announced is read to its end
	n, err := io.ReadFull(body, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	rest, err := io.ReadAll(body)
	return append(buf, rest...), err
}

// authenticate returns the partner of the request's bearer key.
func (h *Handler) authenticate(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return h.o.Keys.Authenticate(strings.TrimSpace(token))
}

func (h *Handler) limiter(partner string) *rate.Limiter {
	h.mu.Lock()
	defer h.mu.Unlock()
	l, ok := h.limiters[partner]
	if !ok {
		lim := rate.Limit(h.o.Rate)
		if h.o.Rate < 0 {
			lim = rate.Inf
		}
		l = rate.NewLimiter(lim, h.o.Burst) // starts full
		h.limiters[partner] = l
	}
	return l
}

// decode validates every item with report.Decode (the code ingest uses),
// and encodes the valid ones as messages that carry the partner's id.
func (h *Handler) decode(partner string, items []item, now time.Time) (Response, []publish.Message, []byte) {
	resp := Response{PartnerID: partner, Accepted: []Accepted{}, Rejected: []Rejected{}}
	msgs := make([]publish.Message, 0, len(items))
	headers := map[string]string{report.HeaderPartner: partner}
	size := 0
	for _, it := range items {
		size += len(it.data) + len(partner) + len(`{"partner_id":"",`)
	}
	arena := getBuffer(size)
	for i, it := range items {
		rep, err := decodeItem(it.data, now)
		if err == nil && rep.IncidentOf.ID == rep.ID { // a link to itself, with the partner of the key
			own := rep
			own.PartnerID = partner
			err = report.CheckIncidentOf(&own)
		}
		if err != nil {
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, Line: it.line, ID: readableID(it.data), Errors: fieldErrors(err)})
			continue
		}
		value, err := withPartner(&arena, it.data, &rep, partner)
		if err != nil { // cannot happen for a decoded report
			resp.Rejected = append(resp.Rejected, Rejected{Index: i, Line: it.line, ID: rep.ID, Errors: []report.FieldError{{Rule: "encode", Msg: "report could not be re-encoded"}}})
			continue
		}
		msgs = append(msgs, publish.Message{Key: []byte(rep.ID), Value: value, Headers: headers})
		resp.Accepted = append(resp.Accepted, Accepted{Index: i, ID: rep.ID, Revision: rep.Revision})
	}
	return resp, msgs, arena
}

func fieldErrors(err error) []report.FieldError {
	var es report.Errors
	if errors.As(err, &es) && len(es) > 0 {
		return es
	}
	return []report.FieldError{{Rule: "invalid", Msg: "report is invalid"}}
}

// readableID returns the item's id when it is a plain short string, to
// help the partner find a rejected item.
func readableID(data []byte) string {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &v) != nil {
		return ""
	}
	var id string
	if json.Unmarshal(v.ID, &id) != nil || len(id) > report.MaxIDLen || !safeID(id) || strings.ContainsFunc(id, unicode.IsSpace) {
		return ""
	}
	return id
}

func mediaKind(ct string) (kind, bool) {
	mt, _, _ := strings.Cut(ct, ";")
	switch strings.ToLower(strings.TrimSpace(mt)) {
	case ContentTypeJSON:
		return kindJSON, true
	case ContentTypeNDJSON, "application/jsonl", "application/jsonlines", "application/x-jsonlines":
		return kindNDJSON, true
	}
	return 0, false
}

func seconds(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}

func problem(w http.ResponseWriter, status int, param, msg string) {
	writeJSON(w, status, Problem{Error: ProblemDetail{Status: status, Param: param, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
