// Package rematch recomputes the zone membership of stored reports after a
// zone set is amended, without double counting.
//
// A report is matched against the zones in force at its observed_at, and
// each stored row records the zone-set version (geo.Matcher.Version) it
// was matched with. Run reads, UTC day by UTC day, the current revision of
// every report observed in [From, To), matches it again with the new
// matcher and classifies it again (as ingest does, with package enrich:
// zones, admin areas, violation rules), and rewrites the reports whose result changed: zones,
// possible zones, admin codes, violation flag or reason. A report already
// matched with the new version, or whose result is the same, is left
// alone (its row keeps the version it was matched with).
//
// # How the tables stay exact
//
// The rewrite is storage.Store.WriteRematch, whose design is documented in
// the Rematch section of package storage's doc (go doc storage). In short:
//
//   - per changed report, ONE INSERT carries a -1 copy of the stored row
//     and a +1 row of the same revision with the new match, both with
//     generation gen+1, a column of the raw table's sorting key (migration
//     0002), so no row folds with another;
//   - the batch is a span of the synthetic ledger source
//     {Cluster: "rematch", Topic: <zone-set version>}: pending, insert,
//     done, like an ingest span; the aggregates (keyed by dims and
//     span_id) add the batch's -1 and +1 like any other span;
//   - an interrupted batch is rolled forward by the next run, which sends
//     the batch's rows again, read back from the raw table (all or none of
//     them are there: a batch lies within one month, one part): the same
//     block folds with whatever of it landed;
//   - revisions, where WriteBatch looks up the revision a later
//     correction replaces, is merged (OPTIMIZE FINAL) so that only the
//     newest generation is left: the correction retracts the rematched
//     row, not the original.
//
// Running Run twice changes nothing the second time (every report is
// already at the new version, or unchanged); re-running after a crash
// completes the interrupted batch, then goes on.
//
// # Operating
//
// Stop ingest (and let it finish cleanly: Run refuses to start while an
// ingest span is pending, ErrIngestPending), deploy the amended zone set to
// ingest, run `trucewatch rematch --from --to --zones ...` with the same
// zone sets until it succeeds, then restart ingest. Only one rematch may
// run at a time. A rematch interrupted for any reason must be run again
// (with any zone set) before ingest resumes.
package rematch
