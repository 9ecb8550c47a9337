package pool

// IdleWorkers counts the workers waiting for a job right now. Every other
// worker counts as busy on a dashboard — working, or blocked handing its
// result to a full results channel, which is the incident's point: "busy"
// does not say which.
func (p *Pool) IdleWorkers() int {
	_, idle := p.queue.waiting()
	return idle
}
