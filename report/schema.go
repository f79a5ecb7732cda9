package report

import _ "embed"

// JSONSchema is the JSON Schema (draft 2020-12) of a v1 report, for
// partners to validate against before they send.
//
//go:embed schema/report.v1.json
var JSONSchema []byte
