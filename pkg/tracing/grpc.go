package tracing

import (
	"context"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// GRPCServerOption makes otelgrpc server spans from the caller's
// traceparent. Methods for which skip returns true (full method name, e.g.
// "/grpc.health.v1.Health/Check") are not traced.
func (p *Provider) GRPCServerOption(skip func(fullMethod string) bool) grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(p.grpcOptions(skip)...))
}

// GRPCDialOption makes otelgrpc client spans whose parent is the current
// tracez span, and sends their traceparent in the call's metadata.
func (p *Provider) GRPCDialOption(skip func(fullMethod string) bool) grpc.DialOption {
	return grpc.WithStatsHandler(clientHandler{
		Handler: otelgrpc.NewClientHandler(p.grpcOptions(skip)...),
		p:       p,
	})
}

func (p *Provider) grpcOptions(skip func(string) bool) []otelgrpc.Option {
	opts := []otelgrpc.Option{
		otelgrpc.WithTracerProvider(p.otelTP),
		otelgrpc.WithPropagators(p.prop),
	}
	if skip != nil {
		opts = append(opts, otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			return !skip(info.FullMethodName)
		}))
	}
	return opts
}

// clientHandler lifts the tracez span into the OTel context before otelgrpc
// starts its client span.
type clientHandler struct {
	stats.Handler
	p *Provider
}

func (h clientHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return h.Handler.TagRPC(h.p.ContextWithTracez(ctx), info)
}
