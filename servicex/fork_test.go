package servicex_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/kube-idp/kube/servicex"
)

// seen is what the last service of a chain received.
type seen struct{ id, header, baggage string }

// httpChain starts three services, a -> b -> c, each with the middleware and a
// client with the transport; c reports what reached it.
func httpChain(t *testing.T) (string, *seen) {
	t.Helper()
	got := &seen{}
	c := httptest.NewServer(servicex.ForkMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.id, _ = servicex.ForkFrom(r.Context())
		got.header, got.baggage = r.Header.Get(servicex.ForkHeader), r.Header.Get("baggage")
	})))
	t.Cleanup(c.Close)
	next := c.URL
	for range 2 { // b, then a
		downstream := next
		client := &http.Client{Transport: servicex.ForkTransport(nil)}
		s := httptest.NewServer(servicex.ForkMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, downstream, nil)
			resp, err := client.Do(req)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})))
		t.Cleanup(s.Close)
		next = s.URL
	}
	return next, got
}

func TestHTTPChainPropagatesTheIdentifier(t *testing.T) {
	for name, tc := range map[string]struct {
		header, baggage, want string
	}{
		"header":        {header: "alice", want: "alice"},
		"baggage":       {baggage: "userid=42, kube-fork=bob;ttl=1", want: "bob"},
		"none":          {baggage: "userid=42"},
		"invalid value": {header: "Alice;x=1"}, // not a DNS label: never passed on
	} {
		t.Run(name, func(t *testing.T) {
			entry, got := httpChain(t)
			req, _ := http.NewRequest(http.MethodGet, entry, nil)
			if tc.header != "" {
				req.Header[servicex.ForkHeader] = []string{tc.header}
			}
			if tc.baggage != "" {
				req.Header.Set("baggage", tc.baggage)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got.id != tc.want || got.header != tc.want {
				t.Fatalf("c saw id %q header %q, want %q", got.id, got.header, tc.want)
			}
			b, err := baggage.Parse(got.baggage)
			if err != nil && tc.want != "" {
				t.Fatalf("baggage %q: %v", got.baggage, err)
			}
			if m := b.Member(servicex.ForkBaggageMember).Value(); m != tc.want {
				t.Fatalf("c's baggage %q has kube-fork=%q, want %q", got.baggage, m, tc.want)
			}
		})
	}
}

func TestTransportKeepsOtherBaggageMembers(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get("baggage") }))
	defer srv.Close()
	ctx := servicex.WithFork(context.Background(), "alice")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	req.Header.Set("baggage", "userid=42")
	resp, err := (&http.Client{Transport: servicex.ForkTransport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b, _ := baggage.Parse(got)
	if b.Member("userid").Value() != "42" || b.Member("kube-fork").Value() != "alice" {
		t.Fatalf("baggage %q", got)
	}
	if req.Header.Get(servicex.ForkHeader) != "" {
		t.Fatal("the transport changed the caller's request")
	}
}

// health is a gRPC service (the standard health one, so no generated code is
// needed) that calls the next service of the chain, or records what it saw.
type health struct {
	healthpb.UnimplementedHealthServer
	next healthpb.HealthClient
	got  *seen
}

func (h *health) record(ctx context.Context) {
	h.got.id, _ = servicex.ForkFrom(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	h.got.header = strings.Join(md.Get(servicex.ForkHeader), ",")
	h.got.baggage = strings.Join(md.Get("baggage"), ",")
}

func (h *health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if h.next == nil {
		h.record(ctx)
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	return h.next.Check(ctx, req)
}

func (h *health) Watch(req *healthpb.HealthCheckRequest, stream grpc.ServerStreamingServer[healthpb.HealthCheckResponse]) error {
	if h.next == nil {
		h.record(stream.Context())
		return stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING})
	}
	in, err := h.next.Watch(stream.Context(), req)
	if err != nil {
		return err
	}
	resp, err := in.Recv()
	if err != nil {
		return err
	}
	return stream.Send(resp)
}

// grpcChain starts three in-process services, a -> b -> c, and returns a's client.
func grpcChain(t *testing.T) (healthpb.HealthClient, *seen) {
	t.Helper()
	got := &seen{}
	var next healthpb.HealthClient
	for range 3 { // c, b, then a
		lis := bufconn.Listen(1 << 20)
		srv := grpc.NewServer(servicex.ForkServerOptions()...)
		healthpb.RegisterHealthServer(srv, &health{next: next, got: got})
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.Stop)
		opts := append(servicex.ForkDialOptions(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
		conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		next = healthpb.NewHealthClient(conn)
	}
	return next, got
}

func TestGRPCChainPropagatesTheIdentifier(t *testing.T) {
	for name, md := range map[string]metadata.MD{
		"header":  metadata.Pairs(servicex.ForkHeader, "alice"),
		"baggage": metadata.Pairs("baggage", "userid=42,kube-fork=alice"),
	} {
		for _, stream := range []bool{false, true} {
			a, got := grpcChain(t)
			ctx := metadata.NewOutgoingContext(context.Background(), md)
			if stream {
				s, err := a.Watch(ctx, &healthpb.HealthCheckRequest{})
				if err == nil {
					_, err = s.Recv()
				}
				if err != nil {
					t.Fatal(err)
				}
			} else if _, err := a.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			b, _ := baggage.Parse(got.baggage)
			if got.id != "alice" || got.header != "alice" || b.Member("kube-fork").Value() != "alice" {
				t.Fatalf("%s (stream %v): c saw %+v", name, stream, got)
			}
		}
	}
}
