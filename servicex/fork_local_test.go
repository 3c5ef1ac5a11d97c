package servicex

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
)

func TestLocalProcessCallsCarryTheForkOfKubeForkConnect(t *testing.T) {
	// Under kube fork connect, KUBE_FORK_IDENTIFIER names the fork; a call
	// without a request's identifier carries it, one with keeps its own.
	restore := localFork
	t.Cleanup(func() { localFork = restore })
	t.Setenv(EnvForkIdentifier, "alice")
	localFork = sync.OnceValue(func() string { return os.Getenv(EnvForkIdentifier) })
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get(ForkHeader))
	}))
	defer srv.Close()
	c := &http.Client{Transport: ForkTransport(nil)}
	for _, ctx := range []context.Context{context.Background(), WithFork(context.Background(), "bob")} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if strings.Join(got, " ") != "alice bob" {
		t.Fatalf("headers %q", got)
	}
}
