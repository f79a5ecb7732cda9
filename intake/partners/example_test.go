package partners_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/trucewatch/trucewatch/intake/partners"
)

func Example() {
	dir, _ := os.MkdirTemp("", "partners")
	defer os.RemoveAll(dir)
	keys, err := partners.Create(filepath.Join(dir, "partners.json"))
	if err != nil {
		log.Fatal(err)
	}
	key, err := keys.Add("sohr-field") // hand the key to the partner; only its hash is kept
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(keys.Authenticate(key))
	_ = keys.Revoke("sohr-field")
	fmt.Println(keys.Authenticate(key))
	// Output:
	// sohr-field true
	//  false
}
