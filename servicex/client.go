package servicex

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
)

// ClientOptions tune the clients. The zero value is the platform's defaults.
type ClientOptions struct {
	// Timeout bounds a whole call, retries included. Default: 10s.
	Timeout time.Duration
	// Attempts is how many times an idempotent call is tried. Default: 3.
	Attempts int
	// Backoff is the first wait between attempts; it doubles each time, with
	// full jitter, up to MaxBackoff. Defaults: 100ms and 2s.
	Backoff, MaxBackoff time.Duration
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 2 * time.Second
	}
	return o
}

// HTTPClient is a client for calls to other services: a timeout per call,
// retries of idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE, or any
// request with an Idempotency-Key header) on connection errors, 429, 502, 503
// and 504 with exponential backoff and jitter, honouring Retry-After; each
// attempt traced and measured (OpenTelemetry HTTP client conventions); the
// fork identifier and the trace passed on.
func (s *Service) HTTPClient(o ClientOptions) *http.Client {
	o = o.withDefaults()
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	base.TLSHandshakeTimeout = 5 * time.Second
	base.MaxIdleConnsPerHost = 64 // the default 2 makes a busy service open and close connections all the time
	traced := otelhttp.NewTransport(ForkTransport(base),
		otelhttp.WithTracerProvider(s.tel.tracers), otelhttp.WithMeterProvider(s.tel.meters),
		otelhttp.WithPropagators(s.tel.propagator))
	return &http.Client{Timeout: o.Timeout, Transport: &retryTransport{next: traced, opts: o}}
}

// retryTransport tries idempotent requests again; each attempt goes through
// next, so each is its own client span.
type retryTransport struct {
	next http.RoundTripper
	opts ClientOptions
	// sleep waits, or returns early with the context's error.
	sleep func(context.Context, time.Duration) error
}

func (t *retryTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !retryable(r) {
		return t.next.RoundTrip(r)
	}
	sleep := t.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for attempt := 1; ; attempt++ {
		req := r
		if attempt > 1 && r.Body != nil && r.Body != http.NoBody {
			body, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			req = r.Clone(r.Context())
			req.Body = body
		}
		resp, err := t.next.RoundTrip(req)
		if attempt >= t.opts.Attempts || !shouldRetry(r.Context(), resp, err) {
			return resp, err
		}
		wait := backoff(t.opts, attempt)
		if resp != nil {
			if after, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				wait = after
			}
			// The connection is reused only when the body is read to the end.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		if deadline, ok := r.Context().Deadline(); ok && time.Until(deadline) < wait {
			// Waiting would outlive the call: answer with what we have.
			return nil, &RetryError{Attempts: attempt, Err: err, Status: statusOf(resp), Wait: wait}
		}
		if err := sleep(r.Context(), wait); err != nil {
			return nil, err
		}
	}
}

// RetryError says a call was given up because the next attempt would have had
// to wait past the call's deadline.
type RetryError struct {
	Attempts int
	Status   int
	Err      error
	Wait     time.Duration
}

func (e *RetryError) Error() string {
	cause := "status " + strconv.Itoa(e.Status)
	if e.Err != nil {
		cause = e.Err.Error()
	}
	return "gave up after " + strconv.Itoa(e.Attempts) + " attempts (" + cause + "): the next one would wait " + e.Wait.String() + ", past the deadline"
}

func (e *RetryError) Unwrap() error { return e.Err }

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// retryable: only requests that may be sent twice, and whose body can be.
func retryable(r *http.Request) bool {
	if r.Body != nil && r.Body != http.NoBody && r.GetBody == nil {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, "":
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

func shouldRetry(ctx context.Context, resp *http.Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// backoff is the wait before attempt+1: full jitter over an exponentially
// growing window, so that many clients retrying do not come back together.
func backoff(o ClientOptions, attempt int) time.Duration {
	window := o.Backoff << (attempt - 1)
	if window > o.MaxBackoff || window <= 0 {
		window = o.MaxBackoff
	}
	return time.Duration(rand.Int64N(int64(window)) + 1)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > 3600 {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		if d > time.Hour {
			return 0, false
		}
		return d, true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// GRPCDialOptions are the options for a connection to another service: a
// timeout per call, retries of the named idempotent methods on UNAVAILABLE
// with exponential backoff and jitter by grpc-go's own retry support (which
// honours the server's grpc-retry-pushback-ms), client traces and metrics, and
// fork propagation. A name is a service ("pkg.Service") or a method
// ("pkg.Service/Method").
func (s *Service) GRPCDialOptions(o ClientOptions, idempotent ...string) []grpc.DialOption {
	o = o.withDefaults()
	fork := ForkPropagation{}
	return []grpc.DialOption{
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(s.tel.tracers),
			otelgrpc.WithMeterProvider(s.tel.meters), otelgrpc.WithPropagators(s.tel.propagator))),
		grpc.WithChainUnaryInterceptor(fork.UnaryClientInterceptor()),
		grpc.WithChainStreamInterceptor(fork.StreamClientInterceptor()),
		grpc.WithDefaultServiceConfig(serviceConfig(o, idempotent)),
	}
}

// serviceConfig is the gRPC service config: the timeout for every method, and
// a retry policy for the idempotent ones.
func serviceConfig(o ClientOptions, idempotent []string) string {
	type name struct {
		Service string `json:"service,omitempty"`
		Method  string `json:"method,omitempty"`
	}
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []name       `json:"name"`
		Timeout     string       `json:"timeout"`
		RetryPolicy *retryPolicy `json:"retryPolicy,omitempty"`
	}
	seconds := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s" }
	configs := []methodConfig{{Name: []name{{}}, Timeout: seconds(o.Timeout)}}
	if len(idempotent) > 0 {
		mc := methodConfig{Timeout: seconds(o.Timeout), RetryPolicy: &retryPolicy{
			MaxAttempts:    min(o.Attempts, 5), // grpc-go allows at most 5
			InitialBackoff: seconds(o.Backoff), MaxBackoff: seconds(o.MaxBackoff),
			BackoffMultiplier: 2, RetryableStatusCodes: []string{"UNAVAILABLE"},
		}}
		for _, n := range idempotent {
			svc, method, _ := strings.Cut(strings.TrimPrefix(n, "/"), "/")
			mc.Name = append(mc.Name, name{Service: svc, Method: method})
		}
		configs = append(configs, mc)
	}
	b, _ := json.Marshal(map[string]any{"methodConfig": configs})
	return string(b)
}
