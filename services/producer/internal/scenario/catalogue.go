// Package scenario makes the producer's load: the incident's 20-job checkout
// burst and steady load at a set rate and mix, switchable at run time.
package scenario

import (
	jobsv1 "github.com/hidden-bottleneck/hidden-bottleneck/pkg/api/jobs/v1"
)

// Spec is a job before it gets an ID: what to do and how urgent it is.
type Spec struct {
	Type     jobsv1.JobType
	Target   string
	Priority jobsv1.Priority
}

const (
	cache    = jobsv1.JobType_JOB_TYPE_CACHE_READ
	database = jobsv1.JobType_JOB_TYPE_DATABASE
	vendor   = jobsv1.JobType_JOB_TYPE_VENDOR_API
	normal   = jobsv1.Priority_PRIORITY_NORMAL
	critical = jobsv1.Priority_PRIORITY_CRITICAL
)

// checkout is the incident's checkout burst, in order: fast cache reads and
// queries interleaved with four vendor calls, two of them critical.
var checkout = [...]Spec{
	{cache, "user:premium_customer", normal},
	{cache, "session:authenticated", normal},
	{cache, "cart:items_valid", normal},
	{vendor, "/v1/payment/authorize", critical},
	{cache, "product:pricing", normal},
	{database, "inventory_check", normal},
	{cache, "promotion:black_friday", normal},
	{vendor, "/v1/fraud/check", critical},
	{cache, "shipping:zones", normal},
	{cache, "tax:rates", normal},
	{database, "user_preferences", normal},
	{cache, "recommendations", normal},
	{vendor, "/v1/shipping/calculate", normal},
	{vendor, "/v1/tax/calculate", normal},
	{cache, "order:confirmation", normal},
	{cache, "email:template", normal},
	{database, "receipt:generate", normal},
	{cache, "analytics:event", normal},
	{cache, "notification:send", normal},
	{database, "audit:log", normal},
}

// Checkout returns the 20 jobs of a checkout burst, in submission order.
func Checkout() []Spec { return checkout[:] }

// catalogue is the checkout's jobs by type: steady load draws its targets
// from it so both scenarios touch the same keys, queries and vendor paths.
var catalogue = func() map[jobsv1.JobType][]Spec {
	m := map[jobsv1.JobType][]Spec{}
	for _, s := range checkout {
		m[s.Type] = append(m[s.Type], s)
	}
	return m
}()
