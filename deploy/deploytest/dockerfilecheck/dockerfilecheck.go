// Package dockerfilecheck reads a Dockerfile with BuildKit's own parser and
// checks what a build of one target needs without running Docker: every
// COPY/ADD source is in the build context (after .dockerignore), every base
// image is pinned, the final image runs as a non-root user, and the
// entrypoint binary is copied into the image. Build args are expanded the
// way BuildKit expands them, so each target is checked as Compose builds it.
package dockerfilecheck

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Build is one `docker build`: what Compose passes for a service.
type Build struct {
	ContextDir string            // the build context on disk
	Dockerfile string            // path of the Dockerfile on disk
	Target     string            // stage to build; "" = the last one
	Args       map[string]string // --build-arg values
}

// Result is what the target's final image turns out to be, plus every rule
// the build breaks.
type Result struct {
	Entrypoint []string // ENTRYPOINT of the final image (exec form)
	User       string   // last USER of the final image; "" = root
	// Copied lists the context paths (expanded, slash-separated, no leading
	// "./") that COPY/ADD take from the build context.
	Copied []string
	// Files lists every context file those sources bring in, after
	// .dockerignore: what the build stage sees.
	Files []string
	// BaseImages lists the images from a registry (not scratch, not a
	// stage) that the target's stages start FROM, expanded and sorted.
	BaseImages []string
	Problems   []error
}

// Platform args BuildKit defines by itself; values only matter for paths,
// so any valid platform will do.
var automaticArgs = map[string]string{
	"BUILDPLATFORM":  "linux/amd64",
	"BUILDOS":        "linux",
	"BUILDARCH":      "amd64",
	"TARGETPLATFORM": "linux/amd64",
	"TARGETOS":       "linux",
	"TARGETARCH":     "amd64",
	"TARGETVARIANT":  "",
}

// Check parses b.Dockerfile and checks the stages b.Target needs. The error
// is for a Dockerfile that cannot be read or parsed at all; rule violations
// are in Result.Problems.
func Check(b Build) (Result, error) {
	f, err := os.Open(b.Dockerfile)
	if err != nil {
		return Result{}, fmt.Errorf("dockerfile: %w", err)
	}
	defer f.Close()
	ast, err := parser.Parse(f)
	if err != nil {
		return Result{}, fmt.Errorf("parse %s: %w", b.Dockerfile, err)
	}

	var res Result
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		res.Problems = append(res.Problems, fmt.Errorf("%s%s: lint %s: %s", b.Dockerfile, lineOf(loc), rule, msg))
	}})
	stages, metaArgs, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		return Result{}, fmt.Errorf("parse %s: %w", b.Dockerfile, err)
	}
	if len(stages) == 0 {
		return Result{}, fmt.Errorf("%s has no FROM", b.Dockerfile)
	}

	ignore, err := readDockerignore(b.ContextDir)
	if err != nil {
		return Result{}, err
	}

	c := &checker{
		b:        b,
		lex:      shell.NewLex(ast.EscapeToken),
		stages:   stages,
		ignore:   ignore,
		global:   vars{},
		facts:    map[int]stageFacts{},
		visiting: map[int]bool{},
		res:      &res,
		unset:    map[string]bool{},
	}
	for k, v := range automaticArgs {
		c.global[k] = v
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			c.declareArg(c.global, kv, "global ARG "+kv.Key)
		}
	}

	target := len(stages) - 1
	if b.Target != "" {
		target = c.stageIndex(b.Target)
		if target < 0 {
			return Result{}, fmt.Errorf("%s has no stage %q (target)", b.Dockerfile, b.Target)
		}
	}
	final := c.stage(target)
	res.Entrypoint = final.entrypoint
	res.User = final.user

	where := fmt.Sprintf("%s target %q", b.Dockerfile, stages[target].Name)
	if final.user == "" {
		res.Problems = append(res.Problems, fmt.Errorf("%s runs as root: no USER in the final stage or its bases", where))
	} else if isRoot(final.user) {
		res.Problems = append(res.Problems, fmt.Errorf("%s runs as root: USER %s", where, final.user))
	}
	if len(final.entrypoint) == 0 && !final.shellEntrypoint {
		res.Problems = append(res.Problems, fmt.Errorf("%s has no exec-form ENTRYPOINT", where))
	} else if len(final.entrypoint) > 0 && !slices.Contains(final.copiedTo, final.entrypoint[0]) {
		res.Problems = append(res.Problems, fmt.Errorf("%s: ENTRYPOINT %s is not a file any COPY puts into the image (copied: %v)",
			where, final.entrypoint[0], final.copiedTo))
	}
	res.Copied = c.copied
	slices.Sort(c.bases)
	res.BaseImages = c.bases
	slices.Sort(c.files)
	res.Files = slices.Compact(c.files)
	return res, nil
}

// PinnedImage says whether an image reference names a fixed version: a
// digest, or a tag other than "latest". Untagged means latest.
func PinnedImage(ref string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("image %q: %w", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return nil
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("image %q has no tag (means latest): pin a version", ref)
	}
	if tagged.Tag() == "latest" {
		return fmt.Errorf("image %q uses the latest tag: pin a version", ref)
	}
	return nil
}

// stageFacts is what a stage leaves to stages built on it.
type stageFacts struct {
	env        vars
	user       string
	entrypoint []string
	// shellEntrypoint: ENTRYPOINT is in shell form (already a problem).
	shellEntrypoint bool
	copiedTo        []string // absolute paths COPY/ADD wrote in this stage or its bases
}

type checker struct {
	b        Build
	lex      *shell.Lex
	stages   []instructions.Stage
	ignore   *patternmatcher.PatternMatcher
	global   vars
	facts    map[int]stageFacts // stages already walked
	visiting map[int]bool
	copied   []string
	files    []string
	bases    []string
	res      *Result
	// unset remembers the variables already reported missing, per stage,
	// so one missing ARG is one problem, not one per use.
	unset      map[string]bool
	stageLabel string
}

func (c *checker) problem(format string, args ...any) {
	c.res.Problems = append(c.res.Problems, fmt.Errorf(format, args...))
}

func (c *checker) stageIndex(name string) int {
	for i, s := range c.stages {
		if s.Name != "" && strings.EqualFold(s.Name, name) {
			return i
		}
	}
	return -1
}

// stage walks stage i (after the stages it builds on or copies from) and
// returns what it leaves behind. Each stage is checked once.
func (c *checker) stage(i int) stageFacts {
	if f, ok := c.facts[i]; ok {
		return f
	}
	if c.visiting[i] {
		c.problem("%s: stage %q depends on itself", c.b.Dockerfile, c.stages[i].Name)
		return stageFacts{env: vars{}}
	}
	c.visiting[i] = true
	defer func() { c.visiting[i] = false }()

	s := c.stages[i]
	label := s.Name
	if label == "" {
		label = fmt.Sprintf("#%d", i)
	}
	outer := c.stageLabel
	c.stageLabel = label
	defer func() { c.stageLabel = outer }()
	where := fmt.Sprintf("%s stage %s", c.b.Dockerfile, label)

	base := c.expand(s.BaseName, c.global, where+" FROM")
	var facts stageFacts
	if j := c.stageIndex(base); j >= 0 && j != i {
		inherited := c.stage(j)
		facts = inherited
		facts.env = inherited.env.clone()
		facts.copiedTo = slices.Clone(inherited.copiedTo)
	} else {
		facts.env = vars{}
		if base != "scratch" {
			if !slices.Contains(c.bases, base) {
				c.bases = append(c.bases, base)
			}
			if err := PinnedImage(base); err != nil {
				c.problem("%s: FROM %w", where, err)
			}
		}
	}
	// A stage sees its ENV (inherited ones too) and only those global and
	// automatic ARGs it declares again.
	local := facts.env.clone()

	for _, cmd := range s.Commands {
		switch cmd := cmd.(type) {
		case *instructions.ArgCommand:
			for _, kv := range cmd.Args {
				if gv, ok := c.global[kv.Key]; ok && kv.Value == nil {
					v := gv
					kv.Value = &v
				}
				c.declareArg(local, kv, where+" ARG "+kv.Key)
			}
		case *instructions.EnvCommand:
			for _, kv := range cmd.Env {
				v := c.expand(kv.Value, local, where+" ENV "+kv.Key)
				local[kv.Key] = v
				facts.env[kv.Key] = v
			}
		case *instructions.UserCommand:
			facts.user = c.expand(cmd.User, local, where+" USER")
		case *instructions.EntrypointCommand:
			if cmd.PrependShell {
				// Shell form needs /bin/sh, which a distroless image lacks.
				facts.entrypoint, facts.shellEntrypoint = nil, true
				c.problem("%s: ENTRYPOINT in shell form needs a shell in the image; use the exec form", where)
				continue
			}
			facts.entrypoint, facts.shellEntrypoint = cmd.CmdLine, false
		case *instructions.CopyCommand:
			sources, dest, ok := c.expandSources(cmd.SourcesAndDest, local, where+" COPY")
			if cmd.From != "" {
				from := c.expand(cmd.From, local, where+" COPY --from")
				if j := c.stageIndex(from); j >= 0 {
					c.stage(j)
				} else if err := PinnedImage(from); err != nil {
					c.problem("%s: COPY --from=%s is neither a stage nor a pinned image: %v", where, from, err)
				}
			} else if ok {
				c.contextSources(sources, where+" COPY")
			}
			facts.copiedTo = append(facts.copiedTo, destinations(sources, dest)...)
		case *instructions.AddCommand:
			sources, dest, ok := c.expandSources(cmd.SourcesAndDest, local, where+" ADD")
			if ok {
				c.contextSources(sources, where+" ADD")
			}
			facts.copiedTo = append(facts.copiedTo, destinations(sources, dest)...)
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(cmd) {
				if m.From == "" {
					continue
				}
				from := c.expand(m.From, local, where+" RUN --mount from")
				if j := c.stageIndex(from); j >= 0 {
					c.stage(j)
				} else if err := PinnedImage(from); err != nil {
					c.problem("%s: RUN --mount from=%s: %v", where, from, err)
				}
			}
		}
	}
	c.facts[i] = facts
	return facts
}

// declareArg sets an ARG: a --build-arg wins over the default.
func (c *checker) declareArg(env vars, kv instructions.KeyValuePairOptional, where string) {
	if v, ok := c.b.Args[kv.Key]; ok {
		env[kv.Key] = v
		return
	}
	if kv.Value == nil {
		delete(env, kv.Key) // declared without a value: unset
		return
	}
	env[kv.Key] = c.expand(*kv.Value, env, where)
}

// expand substitutes variables like BuildKit; a variable that is not set
// expands to "" there, which silently changes a path, so it is a problem.
func (c *checker) expand(word string, env vars, where string) string {
	s, _ := c.expandOK(word, env, where)
	return s
}

// expandOK is expand that also says whether every variable was set.
func (c *checker) expandOK(word string, env vars, where string) (string, bool) {
	r, err := c.lex.ProcessWordWithMatches(word, env)
	if err != nil {
		c.problem("%s: %q: %v", where, word, err)
		return word, false
	}
	var names []string
	for n := range r.Unmatched {
		if key := c.stageLabel + "\x00" + n; !c.unset[key] {
			c.unset[key] = true
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		c.problem("%s: %q uses %s, which is not set (declare it with ARG and pass it as a build arg)",
			where, word, strings.Join(names, ", "))
	}
	return r.Result, len(r.Unmatched) == 0
}

// expandSources expands a COPY/ADD's sources and destination; ok is false
// when a variable was missing (already a problem: the paths mean nothing).
func (c *checker) expandSources(sd instructions.SourcesAndDest, env vars, where string) (sources []string, dest string, ok bool) {
	ok = true
	for _, src := range sd.SourcePaths {
		s, set := c.expandOK(src, env, where+" source")
		sources, ok = append(sources, s), ok && set
	}
	dest, set := c.expandOK(sd.DestPath, env, where+" destination")
	return sources, dest, ok && set
}

// contextSources checks that each source taken from the build context
// matches at least one file Docker would send.
func (c *checker) contextSources(sources []string, where string) {
	for _, src := range sources {
		if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
			c.problem("%s: remote source %s: keep builds to the context", where, src)
			continue
		}
		rel := path.Clean(strings.TrimPrefix(filepath.ToSlash(src), "/"))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			c.problem("%s: source %s is outside the build context", where, src)
			continue
		}
		files, err := c.sentFiles(rel)
		if err != nil {
			c.problem("%s: source %s: %v", where, src, err)
			continue
		}
		c.files = append(c.files, files...)
		if len(files) == 0 {
			c.problem("%s: source %s matches no file in the build context %s (after .dockerignore)", where, src, c.b.ContextDir)
			continue
		}
		c.copied = append(c.copied, rel)
	}
}

// destinations lists the image paths a COPY writes: the destination itself,
// or, for a directory ending in "/", one entry per source.
func destinations(sources []string, dest string) []string {
	if !strings.HasSuffix(dest, "/") {
		return []string{path.Clean(dest)}
	}
	var out []string
	for _, src := range sources {
		out = append(out, path.Join(dest, path.Base(src)))
	}
	return out
}

// sentFiles lists the files under (or matching) rel that the build context
// holds after .dockerignore, relative to the context, slash-separated.
func (c *checker) sentFiles(rel string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(c.b.ContextDir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	var files []string
	for _, m := range matches {
		err := filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			r, err := filepath.Rel(c.b.ContextDir, p)
			if err != nil {
				return err
			}
			ignored, err := c.ignore.MatchesOrParentMatches(filepath.ToSlash(r))
			if err != nil {
				return err
			}
			if !ignored {
				files = append(files, filepath.ToSlash(r))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return files, nil
}

func readDockerignore(contextDir string) (*patternmatcher.PatternMatcher, error) {
	var patterns []string
	f, err := os.Open(filepath.Join(contextDir, ".dockerignore"))
	switch {
	case err == nil:
		defer f.Close()
		patterns, err = ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("read .dockerignore: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	return pm, nil
}

func isRoot(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "root" || name == "0"
}

func lineOf(loc []parser.Range) string {
	if len(loc) == 0 {
		return ""
	}
	return fmt.Sprintf(":%d", loc[0].Start.Line)
}

// vars is a variable set for BuildKit's shell lexer.
type vars map[string]string

func (v vars) Get(k string) (string, bool) { s, ok := v[k]; return s, ok }

func (v vars) Keys() []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v vars) clone() vars {
	out := make(vars, len(v))
	for k, s := range v {
		out[k] = s
	}
	return out
}
