// Command producer makes the jobs: the incident's 20-job checkout burst, or
// steady load at a set rate and mix. Each job is the root of its own trace.
package main

import (
	"context"
	"os"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/svcmain"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/config"
	"github.com/hidden-bottleneck/hidden-bottleneck/services/producer/internal/app"
)

func main() {
	svcmain.Main(svcmain.Service[config.Config]{
		Name:     "producer",
		Load:     func() (config.Config, error) { return config.Load(nil) },
		HTTPAddr: func(c config.Config) string { return c.HTTPAddr },
		Run: func(ctx context.Context, c config.Config) error {
			return app.Run(ctx, c, os.Stderr)
		},
	})
}
