package scenario

import (
	"testing"

	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
	"github.com/hidden-bottleneck/hidden-bottleneck/pkg/jobs"
)

// The incident's checkout burst, as DESIGN.md lists it.
func TestCheckoutIsTheIncidentsBurst(t *testing.T) {
	want := []struct{ typ, target, priority string }{
		{"cache-read", "user:premium_customer", "normal"},
		{"cache-read", "session:authenticated", "normal"},
		{"cache-read", "cart:items_valid", "normal"},
		{"vendor-api", "/v1/payment/authorize", "critical"},
		{"cache-read", "product:pricing", "normal"},
		{"database", "inventory_check", "normal"},
		{"cache-read", "promotion:black_friday", "normal"},
		{"vendor-api", "/v1/fraud/check", "critical"},
		{"cache-read", "shipping:zones", "normal"},
		{"cache-read", "tax:rates", "normal"},
		{"database", "user_preferences", "normal"},
		{"cache-read", "recommendations", "normal"},
		{"vendor-api", "/v1/shipping/calculate", "normal"},
		{"vendor-api", "/v1/tax/calculate", "normal"},
		{"cache-read", "order:confirmation", "normal"},
		{"cache-read", "email:template", "normal"},
		{"database", "receipt:generate", "normal"},
		{"cache-read", "analytics:event", "normal"},
		{"cache-read", "notification:send", "normal"},
		{"database", "audit:log", "normal"},
	}
	got := Checkout()
	if len(got) != len(want) {
		t.Fatalf("%d jobs, want %d", len(got), len(want))
	}
	count := map[jobsv1.JobType]int{}
	for i, s := range got {
		count[s.Type]++
		if w := want[i]; jobs.TypeName(s.Type) != w.typ || s.Target != w.target || jobs.PriorityName(s.Priority) != w.priority {
			t.Errorf("job %d = %s %s %s, want %s %s %s", i+1, jobs.TypeName(s.Type), s.Target, jobs.PriorityName(s.Priority), w.typ, w.target, w.priority)
		}
	}
	if count[cache] != 12 || count[database] != 4 || count[vendor] != 4 {
		t.Errorf("counts %v, want 12 cache reads, 4 database, 4 vendor calls", count)
	}
}
