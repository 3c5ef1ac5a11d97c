// Command orders is a service on servicex: its whole platform integration is
// the first and last lines of main. Three copies chained by NEXT_URL make the
// example of docs/servicex.md (orders → payments → stock).
package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"time"

	"github.com/kube-idp/kube/servicex"
)

func main() {
	svc := servicex.MustNew()
	next := os.Getenv("NEXT_URL") // the service this one calls, if any
	client := svc.HTTPClient(servicex.ClientOptions{Timeout: 5 * time.Second})

	svc.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		delay, _ := time.ParseDuration(r.URL.Query().Get("delay"))
		time.Sleep(delay) // stands for the work
		fork, _ := servicex.ForkFrom(r.Context())
		answer := map[string]any{"service": svc.Config().Service, "id": r.PathValue("id"), "fork": fork}
		if next != "" {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, next+"/orders/"+r.PathValue("id"), nil)
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer resp.Body.Close()
			var downstream any
			_ = json.NewDecoder(resp.Body).Decode(&downstream)
			answer["next"] = downstream
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	})
	svc.HandleFunc("GET /panic", func(http.ResponseWriter, *http.Request) { panic("the example panics on purpose") })

	if err := svc.Run(context.Background()); err != nil {
		svc.Logger().Error("stopped", "error", err)
		os.Exit(1)
	}
}
