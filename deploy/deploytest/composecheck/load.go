// Package composecheck loads a Compose project the way `docker compose`
// does (compose-go: the project directory, its .env, profiles, variables set
// in the shell) and checks the rules `docker compose up` relies on but does
// not enforce: references between services, health-gated start order,
// published ports, pinned images, resource limits, and buildable images.
package composecheck

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/types"
)

// Options say how to load a project.
type Options struct {
	Dir      string   // project directory: holds the compose file and .env
	File     string   // compose file name in Dir; "" = docker-compose.yml
	Shell    []string // KEY=value pairs set in the shell; they win over .env
	Profiles []string // profiles to enable, like --profile
	// Raw keeps ${VAR:-default} expressions as written instead of
	// interpolating them.
	Raw bool
}

// Load reads the project. The process's own environment is not consulted,
// so results do not depend on who runs the test.
func Load(ctx context.Context, o Options) (*types.Project, error) {
	file := o.File
	if file == "" {
		file = "docker-compose.yml"
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(o.Dir, file)},
		cli.WithWorkingDirectory(o.Dir),
		cli.WithEnv(o.Shell),
		// Like `docker compose`: .env from the project directory, after the
		// shell so that the shell wins.
		cli.WithEnvFiles(),
		cli.WithDotEnv,
		cli.WithProfiles(o.Profiles),
		cli.WithInterpolation(!o.Raw),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options for %s: %w", file, err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	return p, nil
}

// ReadDotEnv reads an env file with Compose's own parser.
func ReadDotEnv(path string) (map[string]string, error) {
	env, err := dotenv.GetEnvFromFile(nil, []string{path})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return env, nil
}
