package report

// HeaderPartner is the Kafka header that names the partner of a report
// whose body has no partner_id. Only trusted producers set it on the
// reports topic (the HTTPS intake, from the API key); on a partner's own
// topic it must name that partner.
const HeaderPartner = "trucewatch.partner"

// ValidPartnerID reports whether s can be stored as a partner id: 1 to
// MaxPartnerIDLen characters matching PartnerIDPattern. Ingest checks
// every partner id that does not come from a decoded body with it (the
// trucewatch.partner header, the name of a partner topic).
func ValidPartnerID(s string) bool {
	return s != "" && len(s) <= MaxPartnerIDLen && validPartnerID(s)
}
