package scenario

import (
	"math/rand/v2"
	"time"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// Generator draws steady load's jobs: a type by the mix's weights, then a
// target of that type from the checkout catalogue. Not safe for concurrent
// use.
type Generator struct {
	rng   *rand.Rand
	types []jobsv1.JobType
	cum   []float64 // cumulative weights, same order as types
}

// NewGenerator draws with a seeded source, so tests can check the mix.
func NewGenerator(seed uint64, mix Mix) *Generator {
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.SetMix(mix)
	return g
}

// SetMix changes the weights (mix must be valid).
func (g *Generator) SetMix(mix Mix) {
	g.types, g.cum = g.types[:0], g.cum[:0]
	total := 0.0
	for _, t := range jobs.Types {
		if w := mix[jobs.TypeName(t)]; w > 0 {
			total += w
			g.types = append(g.types, t)
			g.cum = append(g.cum, total)
		}
	}
}

// Next returns the next job to submit.
func (g *Generator) Next() Spec {
	if len(g.types) == 0 {
		return checkout[0]
	}
	x := g.rng.Float64() * g.cum[len(g.cum)-1]
	t := g.types[len(g.types)-1]
	for i, c := range g.cum {
		if x < c {
			t = g.types[i]
			break
		}
	}
	specs := catalogue[t]
	return specs[g.rng.IntN(len(specs))]
}

// maxLag bounds the jobs a Pacer owes after a stall: a gap between ticks
// longer than this counts as this long, and the jobs of the rest are
// skipped rather than bunched up.
const maxLag = time.Second

// Pacer turns a rate into a number of jobs due at each tick. The rate can
// change at any time; jobs owed at the old rate up to the change are kept.
// Not safe for concurrent use.
type Pacer struct {
	rate    float64
	last    time.Time
	owed    float64
	skipped uint64
}

// NewPacer starts owing jobs at rate per second from now.
func NewPacer(now time.Time, rate float64) *Pacer {
	return &Pacer{rate: rate, last: now}
}

// SetRate changes the rate from now on.
func (p *Pacer) SetRate(now time.Time, rate float64) {
	p.accrue(now)
	p.rate = rate
}

// Rate is the current rate in jobs per second.
func (p *Pacer) Rate() float64 { return p.rate }

// Due returns how many jobs to send now.
func (p *Pacer) Due(now time.Time) int {
	p.accrue(now)
	n := int(p.owed)
	p.owed -= float64(n)
	return n
}

// Skipped counts jobs dropped because the pacer fell more than maxLag behind.
func (p *Pacer) Skipped() uint64 { return p.skipped }

func (p *Pacer) accrue(now time.Time) {
	if !now.After(p.last) {
		return
	}
	elapsed := now.Sub(p.last)
	p.last = now
	if elapsed > maxLag {
		p.skipped += uint64((elapsed - maxLag).Seconds() * p.rate)
		elapsed = maxLag
	}
	p.owed += elapsed.Seconds() * p.rate
}
