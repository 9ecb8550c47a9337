package stackctl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/measure"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/plan"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/runner"
	"github.com/hidden-bottleneck/hidden-bottleneck/cmd/bottleneck/internal/experiment/settings"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/stack"
)

// OwnBase are the settings the own stack gives every row before the plan's:
// at 1,000 jobs/s the services' info lines would cost CPU the row needs,
// and a row's leftovers need not drain for 10 s before the next row.
func OwnBase() settings.Env {
	e := settings.Env{}
	e.Apply(
		settings.Setting{Name: "LOG_LEVEL", Value: "warn"},
		settings.Setting{Name: "SHUTDOWN_TIMEOUT", Value: "500ms"},
	)
	return e
}

// jaegerIngest is how long Jaeger may take to make received spans
// queryable: its batch processor's timeout (deploy/jaeger/config.yaml,
// 200ms), with room.
const jaegerIngest = 500 * time.Millisecond

// OwnConfig is how to run the own stack.
type OwnConfig struct {
	// Stack is pkg/stack's configuration; Ports and ServiceEnv are set
	// here (free ports; each row's settings).
	Stack stack.Config
}

// Own is the experiment's own native stack. Jaeger starts with the first
// row and stays up; the four services restart for every row with its
// settings, so every row starts empty.
type Own struct {
	cfg   stack.Config
	st    *stack.Stack
	admin *admin
	stats *measure.StatsClient
	down  error // set once the stack stopped on its own
}

// NewOwn prepares an own stack on free ports; the first Prepare starts it.
func NewOwn(cfg OwnConfig) (*Own, error) {
	ports, err := stack.FreePorts()
	if err != nil {
		return nil, err
	}
	c := cfg.Stack
	c.Ports = ports
	c.OTLPEndpoint = ""
	if c.Output == nil {
		c.Output = io.Discard
	}
	o := &Own{cfg: c}
	url := func(p int) string { return stack.HTTPURL(p) }
	o.admin = &admin{http: newHTTPClient(), producer: url(ports.ProducerHTTP), workers: url(ports.WorkersHTTP), vendor: url(ports.VendorHTTP), consumer: url(ports.ConsumerHTTP)}
	o.stats = &measure.StatsClient{URLs: measure.StatsURLs{Producer: o.admin.producer, Workers: o.admin.workers, VendorMock: o.admin.vendor, Consumer: o.admin.consumer}, HTTP: o.admin.http}
	return o, nil
}

// JaegerURL is the own Jaeger's query API and UI.
func (o *Own) JaegerURL() string { return stack.HTTPURL(o.cfg.Ports.JaegerUI) }

// serviceEnv is env for pkg/stack, with the producer idle until the row's
// load starts.
func serviceEnv(env settings.Env) map[string][]string {
	out := map[string][]string{}
	for _, s := range settings.Services {
		out[s] = env.List(s)
	}
	out[settings.Producer] = append(out[settings.Producer], "SCENARIO=idle")
	return out
}

// Prepare implements runner.System: fresh services with env's settings
// (the first call starts Jaeger too).
func (o *Own) Prepare(ctx context.Context, env settings.Env) error {
	if err := o.alive(); err != nil {
		return err
	}
	if o.st == nil {
		cfg := o.cfg
		cfg.ServiceEnv = serviceEnv(env)
		st, err := stack.Start(ctx, cfg)
		if err != nil {
			return &runner.FatalError{Err: fmt.Errorf("starting the stack: %w", err)}
		}
		o.st = st
		return nil
	}
	if err := o.st.StartServices(ctx, serviceEnv(env)); err != nil {
		// A service that does not come up healthy with the row's settings
		// is the row's failure; the stack can still run the next row.
		if err := o.alive(); err != nil {
			return err
		}
		return fmt.Errorf("starting the services: %w", err)
	}
	return nil
}

// alive reports a stack that stopped on its own (a process died) as fatal.
func (o *Own) alive() error {
	if o.down != nil {
		return o.down
	}
	if o.st == nil {
		return nil
	}
	select {
	case <-o.st.Done():
		o.down = &runner.FatalError{Err: fmt.Errorf("the stack stopped: %w", o.st.Wait())}
		return o.down
	default:
		return nil
	}
}

// StartLoad implements runner.System.
func (o *Own) StartLoad(ctx context.Context, w plan.Workload) error {
	if err := o.admin.startLoad(ctx, w); err != nil {
		return errors.Join(err, o.alive())
	}
	return nil
}

// StopLoad implements runner.System.
func (o *Own) StopLoad(ctx context.Context) error {
	if o.alive() != nil {
		return nil // nothing left to stop
	}
	return o.admin.stopLoad(ctx)
}

// Snapshot implements runner.System: counters from /stats, CPU and memory
// of every process from /proc.
func (o *Own) Snapshot(ctx context.Context) (measure.Snapshot, error) {
	if err := o.alive(); err != nil {
		return measure.Snapshot{}, err
	}
	s := measure.Snapshot{At: time.Now(), Procs: map[string]measure.ProcSample{}}
	c, err := o.stats.Read(ctx)
	if err != nil {
		return s, errors.Join(err, o.alive())
	}
	s.Counters = c
	// The CPU readings together, after the counters (whose HTTP calls take
	// a varying time under load): the machine's right after the
	// processes', so both cover the same interval.
	s.CPUAt = time.Now()
	for _, name := range []string{stack.Producer, stack.Workers, stack.VendorMock, stack.Consumer, stack.Jaeger} {
		if pid := o.st.Pid(name); pid > 0 {
			if p, err := measure.ReadProc(pid); err == nil {
				s.Procs[name] = p
			}
		}
	}
	s.Machine, _ = measure.ReadMachine()
	s.Self, _ = measure.ReadSelf()
	return s, nil
}

// Settle implements runner.System: stopping the services flushes their
// spans into Jaeger (which keeps running), and resets the next row.
func (o *Own) Settle(ctx context.Context) error {
	if err := o.alive(); err != nil {
		return err
	}
	if err := o.st.StopServices(); err != nil {
		// A service that needed killing still stopped; its spans may be
		// incomplete, which the trace sample shows.
		if err := o.alive(); err != nil {
			return err
		}
	}
	t := time.NewTimer(jaegerIngest)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Close stops everything.
func (o *Own) Close() error {
	if o.st == nil {
		return nil
	}
	return o.st.Stop()
}

// StopServices stops the services but leaves Jaeger up (--keep).
func (o *Own) StopServices() error {
	if o.st == nil {
		return nil
	}
	return o.st.StopServices()
}

// Done is closed when the stack has stopped (nil before it started).
func (o *Own) Done() <-chan struct{} {
	if o.st == nil {
		return nil
	}
	return o.st.Done()
}
