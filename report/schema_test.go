package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("report.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaAgreesWithGo validates a corpus of documents with both the
// shipped JSON Schema and Decode: a partner who checks against the schema
// must get the same verdict as trucewatch. The rules JSON Schema cannot
// state (future and order of times, the earliest date) are left out of the
// corpus and listed in the schema's description instead.
func TestSchemaAgreesWithGo(t *testing.T) {
	s := compileSchema(t)
	corpus := []string{
		validDoc,
		mod(``),
		mod(`"revision":4294967295`), mod(`"revision":4294967296`), mod(`"revision":0`), mod(`"revision":1.5`),
		mod(`"lat":90`), mod(`"lat":90.0001`), mod(`"lon":-180`), mod(`"lon":-180.1`), mod(`"lat":"1"`), mod(`"lat":null`),
		mod(`"accuracy_m":0`), mod(`"accuracy_m":-1`), mod(`"accuracy_m":1000000`), mod(`"accuracy_m":1000001`),
		mod(`"killed":100000`), mod(`"killed":100001`), mod(`"killed":-1`), mod(`"injured":2.0`), mod(`"injured":2.5`),
		mod(`"category":"picnic"`), mod(`"category":"Shelling"`), mod(`"category":1`),
		mod(`"time_precision":"day"`), mod(`"time_precision":"year"`), mod(`"geo_precision":"adm2"`), mod(`"geo_precision":"city"`),
		mod(`"perpetrator":{"side":"excluded_group"}`), mod(`"perpetrator":{"name":"x","side":"neutral"}`),
		mod(`"perpetrator":"ISIS"`), mod(`"target":{"name":"x","extra":true}`),
		mod(`"perpetrator":{"name":"` + strings.Repeat("é", MaxActorNameLen) + `"}`),
		mod(`"perpetrator":{"name":"` + strings.Repeat("é", MaxActorNameLen+1) + `"}`),
		mod(`"id":"` + strings.Repeat("ع", MaxIDLen) + `"`), mod(`"id":"` + strings.Repeat("ع", MaxIDLen+1) + `"`),
		mod(`"id":""`), mod(`"id":"a b"`), mod(`"id":"a\tb"`), mod(`"id":"a\u00a0b"`), mod(`"id":"a\u0085b"`), mod(`"id":"a\u2003b"`), mod(`"id":"a\ufeffb"`), mod(`"id":"a\u202eb"`), mod(`"id":"a\u200bb"`), mod(`"id":"a\u00adb"`), mod(`"id":"\u0627\u0644"`), mod(`"id":"a-b_c.d/e:1"`),
		mod(`"id":7`),
		mod(`"partner_id":"sn4hr"`), mod(`"partner_id":"-x"`), mod(`"partner_id":"` + strings.Repeat("p", 65) + `"`),
		mod(`"description":"` + strings.Repeat("ب", MaxDescriptionLen) + `"`), mod(`"description":"` + strings.Repeat("ب", MaxDescriptionLen+1) + `"`),
		mod(`"description":"nul\u0000byte"`),
		mod(`"sources":[]`), mod(`"sources":[""]`), mod(`"sources":[1]`), mod(`"sources":"x"`),
		mod(`"sources":[` + strings.Repeat(`"s",`, MaxSources-1) + `"s"]`), mod(`"sources":[` + strings.Repeat(`"s",`, MaxSources) + `"s"]`),
		mod(`"observed_at":"2017-01-04 13:30:00"`), mod(`"observed_at":"2017-01-04T13:30:00.123456789+03:00"`),
		mod(`"unknown":1`), `{}`, `[]`, `"report"`,
		mod(`"withdrawn":true`), mod(`"withdrawn":false`), mod(`"withdrawn":"yes"`), mod(`"withdrawn":1`),
		`{"id":"a","revision":3,"withdrawn":true}`, `{"id":"a","withdrawn":false}`, `{"revision":3,"withdrawn":true}`,
		`{"id":"a","withdrawn":true,"category":"picnic"}`, `{"id":"a","withdrawn":true,"lat":91}`,
		mod(`"incident_of":{"partner_id":"tr-obs","id":"X1"}`), mod(`"incident_of":{"partner_id":"sn4hr","id":"r2"}`),
		mod(`"incident_of":{"id":"X1"}`), mod(`"incident_of":{"partner_id":"tr-obs"}`), mod(`"incident_of":{}`),
		mod(`"incident_of":{"partner_id":"","id":"X1"}`), mod(`"incident_of":{"partner_id":"tr","id":""}`),
		mod(`"incident_of":{"partner_id":"-tr","id":"X1"}`), mod(`"incident_of":{"partner_id":"tr","id":"X 1"}`),
		mod(`"incident_of":{"partner_id":"tr","id":"X1","note":"x"}`), mod(`"incident_of":"tr/X1"`), mod(`"incident_of":["tr","X1"]`),
		mod(`"incident_of":{"partner_id":"` + strings.Repeat("p", 65) + `","id":"X1"}`),
		mod(`"incident_of":{"partner_id":"tr","id":"` + strings.Repeat("ع", MaxIDLen+1) + `"}`),
		mod(`"incident_of":{"partner_id":7,"id":"X1"}`), `{"id":"a","revision":2,"withdrawn":true,"incident_of":{"partner_id":"tr","id":"X1"}}`,
	}
	for i, doc := range corpus {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatalf("corpus %d is not JSON: %v", i, err)
		}
		schemaOK := s.Validate(inst) == nil
		_, goErr := Decode([]byte(doc), testNow)
		if schemaOK != (goErr == nil) {
			t.Errorf("corpus %d: schema valid=%v, Go error=%v\n%s", i, schemaOK, goErr, clip(doc))
		}
	}
}

// TestSchemaLimits checks that the schema states the same enums and limits
// as the Go constants, so that changing one without the other fails.
func TestSchemaLimits(t *testing.T) {
	var sch struct {
		Required []string `json:"required"`
		Else     struct {
			Required []string `json:"required"`
		} `json:"else"`
		Properties map[string]json.RawMessage `json:"properties"`
		Defs       struct {
			Actor struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"actor"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(JSONSchema, &sch); err != nil {
		t.Fatal(err)
	}
	type prop struct {
		Enum      []string `json:"enum"`
		MaxLength *int     `json:"maxLength"`
		MaxItems  *int     `json:"maxItems"`
		Minimum   *float64 `json:"minimum"`
		Maximum   *float64 `json:"maximum"`
		Items     *prop    `json:"items"`
	}
	get := func(m map[string]json.RawMessage, name string) prop {
		var p prop
		if err := json.Unmarshal(m[name], &p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	for name := range sch.Properties {
		if fieldNum(name) < 0 {
			t.Errorf("schema property %s unknown to Decode", name)
		}
	}
	for i, name := range fieldNames {
		if fieldNum(name) != i {
			t.Errorf("fieldNum(%q) = %d, want its index in fieldNames, %d", name, fieldNum(name), i)
		}
		if _, ok := sch.Properties[name]; !ok {
			t.Errorf("Decode field %s missing from schema", name)
		}
	}
	eq := func(what string, got any, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: schema says %v, Go says %v", what, got, want)
		}
	}
	eq("required", sch.Required, []string{"id"})
	eq("required unless withdrawn", sch.Else.Required, []string{"id", "observed_at", "lat", "lon", "category"})
	eq("category enum", get(sch.Properties, "category").Enum, Categories())
	eq("side enum", get(sch.Defs.Actor.Properties, "side").Enum, sides)
	eq("time_precision enum", get(sch.Properties, "time_precision").Enum, timePrecisions)
	eq("geo_precision enum", get(sch.Properties, "geo_precision").Enum, geoPrecisions)
	eq("id maxLength", *get(sch.Properties, "id").MaxLength, MaxIDLen)
	eq("partner_id maxLength", *get(sch.Properties, "partner_id").MaxLength, MaxPartnerIDLen)
	eq("description maxLength", *get(sch.Properties, "description").MaxLength, MaxDescriptionLen)
	eq("actor name maxLength", *get(sch.Defs.Actor.Properties, "name").MaxLength, MaxActorNameLen)
	eq("sources maxItems", *get(sch.Properties, "sources").MaxItems, MaxSources)
	eq("source maxLength", *get(sch.Properties, "sources").Items.MaxLength, MaxSourceLen)
	eq("killed max", *get(sch.Properties, "killed").Maximum, float64(MaxCasualties))
	eq("injured max", *get(sch.Properties, "injured").Maximum, float64(MaxCasualties))
	eq("accuracy max", *get(sch.Properties, "accuracy_m").Maximum, float64(MaxAccuracyM))
	eq("revision max", uint64(*get(sch.Properties, "revision").Maximum), uint64(MaxRevision))
}
