package servicex

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// flaky answers with the given statuses in turn (then 200), recording bodies.
type flaky struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header
	bodies   []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := io.ReadAll(r.Body)
	f.bodies = append(f.bodies, string(b))
	code := http.StatusOK
	if len(f.statuses) > 0 {
		code, f.statuses = f.statuses[0], f.statuses[1:]
		for k, v := range f.header {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(code)
}

func TestRetriesOnlyIdempotentRequests(t *testing.T) {
	for _, tc := range []struct {
		name       string
		method     string
		header     []string
		statuses   []int
		wantTries  int
		wantStatus int
	}{
		{"GET through two 503", http.MethodGet, nil, []int{503, 503}, 3, 200},
		{"GET gives up after three", http.MethodGet, nil, []int{502, 504, 429, 503}, 3, 429},
		{"DELETE on 429", http.MethodDelete, nil, []int{429}, 2, 200},
		{"POST is not idempotent", http.MethodPost, nil, []int{503}, 1, 503},
		{"PATCH is not idempotent", http.MethodPatch, nil, []int{503}, 1, 503},
		{"POST with an Idempotency-Key", http.MethodPost, []string{"Idempotency-Key", "k1"}, []int{503, 503}, 3, 200},
		{"500 is not retried", http.MethodGet, nil, []int{500}, 1, 500},
		{"404 is not retried", http.MethodGet, nil, []int{404}, 1, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{statuses: tc.statuses}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var waits []time.Duration
			rt := &retryTransport{next: http.DefaultTransport, opts: ClientOptions{}.withDefaults(),
				sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
			req, _ := http.NewRequest(tc.method, srv.URL, strings.NewReader("the body"))
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			resp, err := (&http.Client{Transport: rt}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || len(f.bodies) != tc.wantTries || len(waits) != tc.wantTries-1 {
				t.Errorf("status %d after %d tries and %d waits", resp.StatusCode, len(f.bodies), len(waits))
			}
			for i, b := range f.bodies {
				if b != "the body" {
					t.Errorf("attempt %d sent body %q", i+1, b)
				}
			}
		})
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	f := &flaky{statuses: []int{503}, header: http.Header{"Retry-After": {"2"}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var waits []time.Duration
	rt := &retryTransport{next: http.DefaultTransport, opts: ClientOptions{}.withDefaults(),
		sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	resp, err := (&http.Client{Transport: rt}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(waits) != 1 || waits[0] != 2*time.Second {
		t.Errorf("status %d, waits %v", resp.StatusCode, waits)
	}

	// A Retry-After past the call's deadline is not waited for.
	f = &flaky{statuses: []int{503}, header: http.Header{"Retry-After": {"60"}}}
	srv2 := httptest.NewServer(f)
	defer srv2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv2.URL, nil)
	start := time.Now()
	_, err = (&http.Client{Transport: &retryTransport{next: http.DefaultTransport, opts: ClientOptions{}.withDefaults()}}).Do(req)
	var re *RetryError
	if !errors.As(err, &re) || re.Status != 503 || re.Wait != time.Minute || time.Since(start) > time.Second {
		t.Errorf("after %s: %v", time.Since(start), err)
	}
}

func TestConnectionErrorsAreRetriedAndCancellationIsNot(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // nothing listens: connection refused
	tries := 0
	counting := roundTripper(func(r *http.Request) (*http.Response, error) { tries++; return http.DefaultTransport.RoundTrip(r) })
	rt := &retryTransport{next: counting, opts: ClientOptions{Attempts: 4}.withDefaults(),
		sleep: func(context.Context, time.Duration) error { return nil }}
	if _, err := (&http.Client{Transport: rt}).Get("http://" + addr); err == nil || tries != 4 {
		t.Errorf("%d tries: %v", tries, err)
	}
	tries = 0
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr, nil)
	if _, err := (&http.Client{Transport: rt}).Do(req); !errors.Is(err, context.Canceled) || tries > 1 {
		t.Errorf("cancelled call: %d tries: %v", tries, err)
	}
}

func TestBackoffIsJitteredAndBounded(t *testing.T) {
	o := ClientOptions{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()
	for attempt, window := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 70: time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(o, attempt)
			if d <= 0 || d > window {
				t.Fatalf("attempt %d: %s outside (0, %s]", attempt, d, window)
			}
			seen[d] = true
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: only %d distinct waits in 200: clients would retry together", attempt, len(seen))
		}
	}
}

func TestRetryAfterValues(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"3": 3 * time.Second, " 0 ": 0, "Mon, 23 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Mon, 23 Nov 2026 09:00:00 GMT": 0, "-1": -1, "soon": -1, "": -1, "99999": -1,
	} {
		got, ok := retryAfter(v, now)
		if want < 0 && ok || want >= 0 && (!ok || got != want) {
			t.Errorf("Retry-After %q: %s %v", v, got, ok)
		}
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"3", "Mon, 23 Nov 2026 10:00:30 GMT", "-5", "1e9", "Sunday"} {
		f.Add(s)
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := retryAfter(v, now); ok && (d < 0 || d > time.Hour) {
			t.Fatalf("Retry-After %q: wait %s", v, d)
		}
	})
}

// A call from inside a request carries the trace and the fork on, and is
// measured as a client call.
func TestClientCarriesTheTraceAndFork(t *testing.T) {
	var gotTrace, gotFork string
	down := start(t, Config{Service: "payments", ShutdownTimeout: time.Second}, func(s *Service) {
		s.HandleFunc("GET /pay", func(w http.ResponseWriter, r *http.Request) {
			gotTrace = r.Header.Get("traceparent")
			gotFork, _ = ForkFrom(r.Context())
		})
	})
	var client *http.Client
	up := start(t, testConfig(), func(s *Service) {
		client = s.HTTPClient(ClientOptions{})
		s.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, down.url+"/pay", nil)
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			resp.Body.Close()
		})
	})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	if code, body := get(t, up.url+"/checkout", "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01", ForkHeader, "pr-7"); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if !strings.Contains(gotTrace, traceID) || gotFork != "pr-7" {
		t.Errorf("downstream saw traceparent %q, fork %q", gotTrace, gotFork)
	}
	fams := scrape(t, up.metrics)
	if s := series(fams, "http_client_request_duration_seconds", map[string]string{"http_request_method": "GET", "http_response_status_code": "200"}); len(s) != 1 {
		t.Errorf("client call not measured: %v", fams["http_client_request_duration_seconds"])
	}
}

// testService answers UNAVAILABLE to the first call of each method.
type testService struct {
	testpb.UnimplementedTestServiceServer
	mu    sync.Mutex
	calls map[string]int
}

func (s *testService) call(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[method]++
	return s.calls[method]
}

func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("panic")) > 0 {
		panicInHandler("grpc")
	}
	if s.call("EmptyCall") == 1 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return &testpb.Empty{}, nil
}

func (s *testService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if s.call("UnaryCall") == 1 {
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	fork, _ := ForkFrom(ctx)
	return &testpb.SimpleResponse{Username: fork}, nil
}

func TestGRPC(t *testing.T) {
	impl := &testService{calls: map[string]int{}}
	rep := &reports{}
	srv := start(t, testConfig(), func(s *Service) { testpb.RegisterTestServiceServer(s.GRPCServer(), impl) }, WithReporter(rep))
	client, err := New(WithConfig(Config{Service: "client"}), WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	opts := append(client.GRPCDialOptions(ClientOptions{Backoff: 10 * time.Millisecond}, "grpc.testing.TestService/UnaryCall"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	conn, err := grpc.NewClient(srv.grpcAddr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc := testpb.NewTestServiceClient(conn)
	ctx := WithFork(context.Background(), "pr-9")

	// The idempotent method is tried again; the other is not.
	resp, err := tc.UnaryCall(ctx, &testpb.SimpleRequest{})
	if err != nil || impl.calls["UnaryCall"] != 2 || resp.GetUsername() != "pr-9" {
		t.Errorf("UnaryCall: %v after %d calls, fork %q", err, impl.calls["UnaryCall"], resp.GetUsername())
	}
	if _, err := tc.EmptyCall(ctx, &testpb.Empty{}); status.Code(err) != codes.Unavailable || impl.calls["EmptyCall"] != 1 {
		t.Errorf("EmptyCall: %v after %d calls", err, impl.calls["EmptyCall"])
	}

	// A panic is Internal, reported once, and the server keeps serving.
	_, err = tc.EmptyCall(metadata.AppendToOutgoingContext(ctx, "panic", "1"), &testpb.Empty{})
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "nil map") {
		t.Errorf("panic: %v", err)
	}
	var p *PanicError
	if errs := rep.all(); len(errs) != 1 || !errors.As(errs[0], &p) || p.Route != "/grpc.testing.TestService/EmptyCall" {
		t.Errorf("reported: %v", errs)
	}
	if _, err := tc.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Errorf("after the panic: %v", err)
	}

	// The standard health service follows readiness.
	hc := healthpb.NewHealthClient(conn)
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health while ready: %v %v", r, err)
	}
	srv.SetReady(false)
	if r, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while not ready: %v %v", r, err)
	}

	fams := scrape(t, srv.metrics)
	if s := series(fams, "rpc_server_call_duration_seconds", map[string]string{"rpc_method": "grpc.testing.TestService/UnaryCall"}); len(s) == 0 {
		t.Errorf("gRPC calls not measured: %v", fams["rpc_server_call_duration_seconds"])
	}
	if s := series(fams, "servicex_panics_total", map[string]string{"route": "/grpc.testing.TestService/EmptyCall"}); len(s) != 1 {
		t.Errorf("panic not counted: %v", fams["servicex_panics_total"])
	}
	var calls int
	for _, l := range withMessage(srv.logs.lines(t), "call") {
		if l["method"] == "/grpc.testing.TestService/UnaryCall" && l["fork"] == "pr-9" {
			calls++
		}
	}
	if calls != 2 {
		t.Errorf("%d UnaryCall log lines with the fork", calls)
	}
}

// gRPC takes no more header than HTTP does (its default is 16 MiB).
func TestGRPCHeadersAreBounded(t *testing.T) {
	srv := start(t, testConfig(), func(s *Service) { s.GRPCServer() })
	conn, err := grpc.NewClient(srv.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	small := metadata.AppendToOutgoingContext(context.Background(), "x-small", "x")
	if _, err := hc.Check(small, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a small call: %v", err)
	}
	big := metadata.AppendToOutgoingContext(context.Background(), "x-big", strings.Repeat("x", 2*MaxHeaderBytes))
	if _, err := hc.Check(big, &healthpb.HealthCheckRequest{}); err == nil {
		t.Fatal("a call with 128 KiB of headers was served")
	}
}
