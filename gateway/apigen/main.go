// Command apigen writes the web app's files generated from the gateway's
// Go code: web/src/api/errors.gen.ts from the error table. Run it with
// `go generate ./gateway` from the repository root.
package main

import (
	"log"
	"os"

	"github.com/chatterbox/chatterbox/gateway"
)

func main() {
	if err := os.WriteFile("web/src/api/errors.gen.ts", gateway.ErrorsTS(), 0o644); err != nil {
		log.Fatal(err)
	}
}
