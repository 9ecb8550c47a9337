// Command consumer is the slow end of the worker pool: it takes results over
// gRPC one at a time (by default), 50 ms each, and dedupes them by job ID.
package main

import (
	"context"
	"os"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/svcmain"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/consumer/internal/app"
)

func main() {
	svcmain.Main(svcmain.Service[config.Config]{
		Name:     "consumer",
		Load:     func() (config.Config, error) { return config.Load(nil) },
		HTTPAddr: func(c config.Config) string { return c.HTTPAddr },
		Run: func(ctx context.Context, c config.Config) error {
			return app.Run(ctx, c, os.Stderr)
		},
	})
}
