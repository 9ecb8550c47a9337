package deploytest

import (
	"os"
	"path"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/composecheck"
	"github.com/hidden-bottleneck/hidden-bottleneck/deploy/deploytest/dockerfilecheck"
)

// The consumer's ledger must outlive its container and be writable while
// the root filesystem stays read-only: DATA_DIR is a named volume's mount
// point, and the image makes that directory its user's, which Docker then
// gives to a new volume (a directory Docker creates itself would be
// root's, and uid 65532 could not write the ledger).
func TestConsumerLedgerIsOnAWritableNamedVolume(t *testing.T) {
	p := load(t, composecheck.Options{})
	svc := p.Services["consumer"]
	if !svc.ReadOnly {
		t.Error("consumer: read_only is off; keep the root filesystem read-only and the ledger on a volume")
	}
	dir := ""
	if v := svc.Environment["DATA_DIR"]; v != nil {
		dir = *v
	}
	if !path.IsAbs(dir) {
		t.Fatalf("consumer: DATA_DIR=%q; want an absolute path inside the container", dir)
	}
	var mount *types.ServiceVolumeConfig
	for i, v := range svc.Volumes {
		if path.Clean(v.Target) == path.Clean(dir) {
			mount = &svc.Volumes[i]
		}
	}
	switch {
	case mount == nil:
		t.Fatalf("consumer: nothing is mounted at DATA_DIR=%s: the ledger would be written to the read-only root (or lost with the container)", dir)
	case mount.Type != types.VolumeTypeVolume:
		t.Errorf("consumer: DATA_DIR is a %s mount; want a named volume", mount.Type)
	case mount.ReadOnly:
		t.Error("consumer: the DATA_DIR volume is mounted read-only")
	}
	if _, ok := p.Volumes[mount.Source]; !ok {
		t.Errorf("consumer: volume %q is not declared under the top-level volumes:", mount.Source)
	}

	build := composecheck.ImageBuild(p, svc.Build)
	res, err := dockerfilecheck.Check(build)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(build.Dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	stages, _, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range stages {
		if st.Name != build.Target {
			continue
		}
		for _, cmd := range st.Commands {
			if c, ok := cmd.(*instructions.CopyCommand); ok && path.Clean(c.DestPath) == path.Clean(dir) {
				if c.Chown != res.User {
					t.Errorf("target %s: %s is copied --chown=%q; want the image's user %q", build.Target, dir, c.Chown, res.User)
				}
				return
			}
		}
	}
	t.Errorf("target %s does not create %s (COPY --chown=%s ... %s/): a new volume would be root's", build.Target, dir, res.User, dir)
}
