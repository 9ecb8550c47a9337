package scenario

import (
	"math"
	"testing"
	"time"

	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

func TestGeneratorHonoursTheMix(t *testing.T) {
	mix, err := ParseMix(DefaultMix)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	g := NewGenerator(42, mix)
	counts := map[string]int{}
	for range n {
		s := g.Next()
		counts[jobs.TypeName(s.Type)]++
		found := false
		for _, c := range catalogue[s.Type] {
			found = found || c == s
		}
		if !found {
			t.Fatalf("%+v is not in the checkout catalogue for its type", s)
		}
	}
	for name, want := range map[string]float64{"cache-read": 0.6, "database": 0.2, "vendor-api": 0.2} {
		if got := float64(counts[name]) / n; math.Abs(got-want) > 0.02 {
			t.Errorf("%s: %.3f of jobs, want %.2f ± 0.02", name, got, want)
		}
	}

	g.SetMix(Mix{"vendor-api": 1, "database": 0})
	for range 1000 {
		if s := g.Next(); s.Type != vendor {
			t.Fatalf("mix vendor-api=1 drew %s", jobs.TypeName(s.Type))
		}
	}
}

func TestPacerFollowsRateChanges(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := NewPacer(t0, 10)
	if n := p.Due(t0.Add(time.Second)); n != 10 {
		t.Errorf("1s at 10/s: %d due, want 10", n)
	}
	p.SetRate(t0.Add(time.Second), 100)
	if n := p.Due(t0.Add(2 * time.Second)); n != 100 {
		t.Errorf("1s at 100/s: %d due, want 100", n)
	}
	p.SetRate(t0.Add(2*time.Second), 0)
	if n := p.Due(t0.Add(3 * time.Second)); n != 0 {
		t.Errorf("rate 0: %d due", n)
	}

	// Fractions carry over: 2.5/s over four 1 s ticks is 10 jobs.
	p = NewPacer(t0, 2.5)
	total := 0
	for i := 1; i <= 4; i++ {
		total += p.Due(t0.Add(time.Duration(i) * time.Second))
	}
	if total != 10 {
		t.Errorf("2.5/s for 4s: %d jobs, want 10", total)
	}

	// After a stall, at most maxLag's worth is sent at once.
	p = NewPacer(t0, 10)
	if n := p.Due(t0.Add(10 * time.Second)); n != 10 || p.Skipped() != 90 {
		t.Errorf("after a 10s stall: %d due, %d skipped; want 10 and 90", n, p.Skipped())
	}
}

func TestLoadValidateNamesTheField(t *testing.T) {
	good := Load{Scenario: NameSteady, Rate: 10, Mix: Mix{"cache-read": 1}, CheckoutTimeout: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*Load){
		"scenario":         func(l *Load) { l.Scenario = "chaos" },
		"rate":             func(l *Load) { l.Rate = 5001 },
		"checkout_every":   func(l *Load) { l.CheckoutEvery = -time.Second },
		"checkout_timeout": func(l *Load) { l.CheckoutTimeout = 0 },
		"steady_duration":  func(l *Load) { l.SteadyDuration = -1 },
		"mix":              func(l *Load) { l.Mix = Mix{"cache-read": 0} },
	} {
		l := good
		mutate(&l)
		if err := l.Validate(); err == nil || err.Error()[:len(field)] != field {
			t.Errorf("bad %s: err %v, want one starting with the field name", field, err)
		}
	}
}
