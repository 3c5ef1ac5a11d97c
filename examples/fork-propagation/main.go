// Command fork-propagation is a minimal service that takes part in kubefork: it
// reads the fork identifier of each request (servicex middleware) and passes it
// on to the service it calls (servicex transport), so a request sent to a fork
// reaches the fork's copy of every service down the chain.
//
//	NAME=frontend DOWNSTREAM=http://localhost:8081 PORT=8080 go run ./examples/fork-propagation
//	NAME=backend PORT=8081 go run ./examples/fork-propagation
//	curl -H 'x-fork-identifier: alice' localhost:8080
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/kube-idp/kube/servicex"
)

func main() {
	name, downstream := os.Getenv("NAME"), os.Getenv("DOWNSTREAM")
	client := &http.Client{Transport: servicex.ForkTransport(nil)}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fork, _ := servicex.ForkFrom(r.Context())
		fmt.Fprintf(w, "%s (fork %q)\n", name, fork)
		if downstream == "" {
			return
		}
		// The request's context carries the identifier to the next call.
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, downstream, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe(":"+port, servicex.ForkMiddleware(handler)))
}
