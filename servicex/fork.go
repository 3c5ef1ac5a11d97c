// Package servicex is the library that services import to take part in the
// platform. This file propagates the kubefork identifier: a request that
// carries it (the x-fork-identifier header or the kube-fork member of the W3C
// baggage header) must pass it on to every call it makes, so that the whole
// chain reaches the fork's copies. See docs/fork.md for the contract.
package servicex

import (
	"context"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"sync"

	"go.opentelemetry.io/otel/baggage"
)

// Defaults of the fork propagation, as in a ForkProfile.
const (
	ForkHeader        = "x-fork-identifier"
	ForkBaggageMember = "kube-fork"
	// ForkSpanAttribute carries the identifier on the spans of a fork's requests.
	ForkSpanAttribute = "kube.fork"
)

// ForkPropagation names the header and baggage member; the zero value uses
// the defaults.
type ForkPropagation struct {
	Header        string
	BaggageMember string
}

func (p ForkPropagation) header() string {
	if p.Header != "" {
		return p.Header
	}
	return ForkHeader
}

func (p ForkPropagation) member() string {
	if p.BaggageMember != "" {
		return p.BaggageMember
	}
	return ForkBaggageMember
}

type forkKey struct{}

// validID is what the controller accepts as an identifier: anything else is
// ignored rather than passed on into other services' headers.
var validID = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)

// WithFork returns a context carrying the fork identifier, also as a member
// of the context's OpenTelemetry baggage so that otel propagators pass it on.
func WithFork(ctx context.Context, id string) context.Context {
	return WithForkUsing(ctx, id, ForkPropagation{})
}

// WithForkUsing is WithFork with a custom baggage member name.
func WithForkUsing(ctx context.Context, id string, p ForkPropagation) context.Context {
	if !validID.MatchString(id) {
		return ctx
	}
	ctx = context.WithValue(ctx, forkKey{}, id)
	if m, err := baggage.NewMember(p.member(), id); err == nil {
		if b, err := baggage.FromContext(ctx).SetMember(m); err == nil {
			ctx = baggage.ContextWithBaggage(ctx, b)
		}
	}
	return ctx
}

// ForkFrom returns the fork identifier of the request being served, if any.
func ForkFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(forkKey{}).(string)
	return id, ok
}

// EnvForkIdentifier is set by kube fork connect for the process that stands
// in for a fork's workload on a developer's machine: calls that process
// starts by itself (a job, a consumer, a request without the header) then
// stay in the fork too.
const EnvForkIdentifier = "KUBE_FORK_IDENTIFIER"

var localFork = sync.OnceValue(func() string {
	if id := os.Getenv(EnvForkIdentifier); validID.MatchString(id) {
		return id
	}
	return ""
})

// outgoing is the identifier an outgoing call carries: the request's, else
// the process's own under kube fork connect.
func outgoing(ctx context.Context) (string, bool) {
	if id, ok := ForkFrom(ctx); ok {
		return id, true
	}
	id := localFork()
	return id, id != ""
}

// extract finds the identifier in a header value or a baggage header value.
func (p ForkPropagation) extract(header string, baggageHeaders []string) string {
	if validID.MatchString(header) {
		return header
	}
	for _, h := range baggageHeaders {
		if b, err := baggage.Parse(h); err == nil {
			if id := b.Member(p.member()).Value(); validID.MatchString(id) {
				return id
			}
		}
	}
	return ""
}

// inject returns the baggage header values with the member set (merged into
// the first one, others kept as they are).
func (p ForkPropagation) inject(id string, baggageHeaders []string) []string {
	m, err := baggage.NewMember(p.member(), id)
	if err != nil {
		return baggageHeaders
	}
	if len(baggageHeaders) == 0 {
		return []string{m.String()}
	}
	b, err := baggage.Parse(baggageHeaders[0])
	if err != nil {
		return append(baggageHeaders, m.String()) // a bad header is left alone
	}
	if b, err = b.SetMember(m); err != nil {
		return baggageHeaders
	}
	return append([]string{b.String()}, baggageHeaders[1:]...)
}

// Middleware puts the identifier of incoming requests into their context.
func (p ForkPropagation) Middleware(next http.Handler) http.Handler {
	// Canonical once, rather than on every request's lookup.
	header := textproto.CanonicalMIMEHeaderKey(p.header())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := p.extract(firstValue(r.Header[header]), r.Header["Baggage"]); id != "" {
			r = r.WithContext(WithForkUsing(r.Context(), id, p))
		}
		next.ServeHTTP(w, r)
	})
}

func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// ForkMiddleware is the Middleware with the default names.
func ForkMiddleware(next http.Handler) http.Handler { return ForkPropagation{}.Middleware(next) }

// Transport adds the identifier of the request's context to outgoing
// requests, in both forms. A nil base means http.DefaultTransport.
func (p ForkPropagation) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		id, ok := outgoing(r.Context())
		if !ok {
			return base.RoundTrip(r)
		}
		r = r.Clone(r.Context()) // a RoundTripper must not change the caller's request
		r.Header.Set(p.header(), id)
		r.Header["Baggage"] = p.inject(id, r.Header.Values("baggage"))
		return base.RoundTrip(r)
	})
}

// ForkTransport is the Transport with the default names.
func ForkTransport(base http.RoundTripper) http.RoundTripper {
	return ForkPropagation{}.Transport(base)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
