// Package intake is the HTTPS entry point of field partners: the handler
// of POST /v1/reports that `trucewatch serve` mounts.
//
// # Request
//
// A partner authenticates with its API key (package partners):
//
//	Authorization: Bearer tw_...
//
// A missing, unknown or revoked key gets 401; a key revoked in the keys
// file stops working within about a second (partners.ReloadInterval),
// without a restart.
//
// The body is chosen by Content-Type:
//
//	application/json      one report object, or a JSON array of them
//	application/x-ndjson  one report object per line (blank lines skipped;
//	                      application/jsonl is taken as a synonym)
//
// Anything else gets 415. Each report is schema v1
// (report/schema/report.v1.json) and is validated by report.Decode, the
// same code ingest runs on what it reads from Kafka, so a report the
// intake accepts is a report ingest stores. The intake adds one rule:
// report ids must not contain Unicode format characters (zero-width
// characters, bidirectional overrides, soft hyphens), which make two ids
// look alike to a reviewer.
//
// # Response
//
// 202 when at least one report was accepted, 400 when none was; both carry
// a Response listing every accepted report (index, id, revision) and every
// rejected one (index, NDJSON line, id when readable, and the field errors
// of report.Decode: field, rule, message), and the 400 also the error
// every error answer has. Every other error is a Problem, the shape of the
// read API's errors:
//
//	{"error": {"status": 413, "param": "body", "message": "..."}}
//
// A body that cannot be split into reports at all (not JSON, an array
// with a syntax error, no report) is a 400 with a Problem. Response bodies
// never carry internal errors.
//
// # Who is the partner
//
// The partner id of every accepted report is the name of the key that sent
// it, never what the body says: the intake overwrites partner_id and also
// sets the Kafka header trucewatch.partner (report.HeaderPartner), so one
// partner cannot write as another. The id is stable: it is the partner's
// name in the keys file, unchanged when its key is rotated.
//
// # Retries and duplicates
//
// The valid reports of one request are produced in one Publisher.Write,
// keyed by report id, and acknowledged by all in-sync replicas before the
// 202 is sent. If the write fails or times out (PublishTimeout) the whole
// request gets 503 with Retry-After and no report of it is reported as
// accepted. Part of such a request may still have reached Kafka; that is
// harmless, because ingest counts a report once per partner_id, id and
// revision, and the partner id of a retry is the same (it comes from the
// key). So a partner simply retries the same request, as often as needed,
// after any 503, 429, timeout or lost connection; nothing it was told is
// accepted is ever lost, and nothing is counted twice. A correction is a
// new revision of the same id.
//
// # Limits
//
// All configurable in Options; the defaults are the Default* constants.
//
//	MaxBodyBytes   8 MiB   per request body                        413
//	MaxItems       1000    reports per request                     413
//	Rate           100/s   reports per second per partner,         429 + Retry-After
//	Burst          2000    token bucket (>= MaxItems)
//	report size    64 KiB  per report (report.MaxReportBytes)      per-item error
//	PublishTimeout 15 s    wait for the brokers' acknowledgement   503 + Retry-After (5 s)
//	MaxInflightBytes  128 MiB  request bytes held, all partners    503 + Retry-After (5 s)
//	MaxInflightBytesPerPartner  32 MiB  request bytes held, one partner  429 + Retry-After (5 s)
//
// A request holds its announced Content-Length from before its first byte
// is read until it is answered (a body without a length holds what has
// arrived, in steps of 64 KiB), so connections that announce large bodies
// and send them slowly cannot make the process allocate more than the
// bound: 200 connections announcing 8 MiB each, which took 1.6 GB of heap
// before, now take 34 MB from one partner and 130 MB from 200 partners.
//
// The rate counts every report in a request, valid or not, and is charged
// before validation; a request refused with 429 or 503 costs nothing. A
// 429's Retry-After is when the partner's bucket holds enough for that
// request. Unauthenticated traffic is not rate-limited here: put the
// server behind a proxy that limits connections per address.
package intake
