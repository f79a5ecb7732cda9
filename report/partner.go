package report

// ValidPartnerID reports whether s can be stored as a partner id: 1 to
// MaxPartnerIDLen characters matching PartnerIDPattern. Ingest checks
// every partner id that does not come from a decoded body with it (the
// trucewatch.partner header, the name of a partner topic).
func ValidPartnerID(s string) bool {
	return s != "" && len(s) <= MaxPartnerIDLen && validPartnerID(s)
}
