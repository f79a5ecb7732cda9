package intake_test

import (
	"log"
	"net/http"

	"github.com/trucewatch/trucewatch/intake"
	"github.com/trucewatch/trucewatch/intake/partners"
	"github.com/trucewatch/trucewatch/kafka/publish"
)

// How trucewatch serve mounts the intake.
func Example() {
	keys, err := partners.Open("var/partners.json") // managed with `trucewatch partners`
	if err != nil {
		log.Fatal(err)
	}
	pub := publish.New(publish.Options{Brokers: []string{"127.0.0.1:9092"}, Topic: "reports"})
	defer pub.Close()
	h, err := intake.New(intake.Options{
		Keys:      keys,
		Publisher: pub,
		Rate:      intake.DefaultRate, // reports per second per partner
		Burst:     intake.DefaultBurst,
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+intake.Path, h)
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
