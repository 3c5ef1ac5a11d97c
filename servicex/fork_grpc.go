package servicex

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// gRPC metadata keys are lower case.

func (p ForkPropagation) fromIncoming(ctx context.Context) context.Context {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	header := ""
	if v := md.Get(p.header()); len(v) > 0 {
		header = v[0]
	}
	if id := p.extract(header, md.Get("baggage")); id != "" {
		return WithForkUsing(ctx, id, p)
	}
	return ctx
}

func (p ForkPropagation) toOutgoing(ctx context.Context) context.Context {
	id, ok := outgoing(ctx)
	if !ok {
		return ctx
	}
	md, _ := metadata.FromOutgoingContext(ctx)
	md = md.Copy()
	md.Set(p.header(), id)
	md.Set("baggage", p.inject(id, md.Get("baggage"))...)
	return metadata.NewOutgoingContext(ctx, md)
}

// UnaryServerInterceptor puts the identifier of incoming calls into their context.
func (p ForkPropagation) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(p.fromIncoming(ctx), req)
	}
}

// StreamServerInterceptor does the same for streams.
func (p ForkPropagation) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, &serverStream{ServerStream: ss, ctx: p.fromIncoming(ss.Context())})
	}
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// UnaryClientInterceptor adds the identifier of the context to outgoing calls.
func (p ForkPropagation) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return invoker(p.toOutgoing(ctx), method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor does the same for streams.
func (p ForkPropagation) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return streamer(p.toOutgoing(ctx), desc, cc, method, opts...)
	}
}

// ForkServerOptions are the server interceptors with the default names.
func ForkServerOptions() []grpc.ServerOption {
	p := ForkPropagation{}
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(p.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(p.StreamServerInterceptor())}
}

// ForkDialOptions are the client interceptors with the default names.
func ForkDialOptions() []grpc.DialOption {
	p := ForkPropagation{}
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(p.UnaryClientInterceptor()), grpc.WithChainStreamInterceptor(p.StreamClientInterceptor())}
}
