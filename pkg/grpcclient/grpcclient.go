// Package grpcclient holds the dial options the project's gRPC clients
// share.
package grpcclient

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ReconnectWithin caps gRPC's reconnect backoff at max. gRPC's default
// grows to 2 minutes, so a peer that comes back after a restart (a service,
// or Jaeger) would sit unused that long: in a demo where services are
// restarted on purpose, that looks like a hang.
func ReconnectWithin(max time.Duration) grpc.DialOption {
	return grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   max,
		},
		MinConnectTimeout: 5 * time.Second,
	})
}
