// Command workers is the worker pool of hidden-bottleneck: it takes jobs
// over gRPC, runs them on WORKERS goroutines and forwards their results to
// the consumer through the results channel that is the incident's hidden
// bottleneck. See the README's configuration table.
package main

import (
	"context"
	"os"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/logging"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/svcmain"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/workers/internal/app"
)

func main() {
	svcmain.Main(svcmain.Service[config.Config]{
		Name:     "workers",
		Load:     func() (config.Config, error) { return config.Load(nil) },
		HTTPAddr: func(c config.Config) string { return c.HTTPAddr },
		Run: func(ctx context.Context, c config.Config) error {
			log, err := logging.New(os.Stderr, logging.Options{Service: "workers", Level: c.LogLevel, Format: c.LogFormat})
			if err != nil {
				return err
			}
			return app.Run(ctx, c, log, app.Options{})
		},
	})
}
