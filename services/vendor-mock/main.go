// Command vendor-mock is the vendor API of hidden-bottleneck, with latency
// and faults that can be changed while traffic flows.
package main

import (
	"context"
	"os"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/svcmain"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/vendor-mock/internal/app"
)

func main() {
	svcmain.Main(svcmain.Service[config.Config]{
		Name:     "vendor-mock",
		Load:     func() (config.Config, error) { return config.Load(nil) },
		HTTPAddr: func(c config.Config) string { return c.HTTPAddr },
		Run: func(ctx context.Context, c config.Config) error {
			return app.Run(ctx, c, os.Stderr)
		},
	})
}
