// Command bottleneck runs hidden-bottleneck without Docker (`up`), names
// the bottleneck from Jaeger's traces (`report`), shows it live
// (`console`) and measures a plan of configurations side by side
// (`experiment`).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/console"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/report"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/up"
)

const usage = `bottleneck: run hidden-bottleneck natively and read what its traces say.

Usage:
  bottleneck up [flags]       start Jaeger and the four services; Ctrl-C stops them
  bottleneck report [flags]   name the bottleneck from the traces in Jaeger
  bottleneck console [flags]  a live page: pipeline, worker timelines, verdict, controls
  bottleneck experiment [flags]
                              measure a plan of configurations side by side: the
                              incident's story, every step, on your machine

Run "bottleneck <command> --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "up":
		return up.Main(ctx, args[1:], stdout, stderr)
	case "report":
		return report.Main(ctx, args[1:], stdout, stderr)
	case "console":
		return console.Main(ctx, args[1:], stdout, stderr)
	case "experiment":
		return experiment.Main(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "bottleneck: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
