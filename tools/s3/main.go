// nhs-fakes3: an S3-compatible server in memory (gofakes3), on loopback only, for the S3 backend tests.
// Usage: nhs-fakes3 BUCKET. Prints "listening http://127.0.0.1:PORT" once the bucket exists.
package main

import (
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	if len(os.Args) != 2 {
		log.Fatal("usage: nhs-fakes3 BUCKET")
	}
	backend := s3mem.New()
	if err := backend.CreateBucket(os.Args[1]); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, gofakes3.New(backend).Server()))
}
