package pool

// fifo is a growable ring buffer. The job queue and the results buffer keep
// their contents in fifos rather than Go channels because both must be
// inspected (which jobs is this one waiting behind?) and the results buffer
// must be resizable at run time without losing or reordering anything.
type fifo[T any] struct {
	buf  []T
	head int
	n    int
}

func (f *fifo[T]) len() int { return f.n }

func (f *fifo[T]) push(v T) {
	if f.n == len(f.buf) {
		grown := make([]T, max(8, 2*len(f.buf)))
		for i := range f.n {
			grown[i] = f.at(i)
		}
		f.buf, f.head = grown, 0
	}
	f.buf[(f.head+f.n)%len(f.buf)] = v
	f.n++
}

// pop removes and returns the oldest element; the fifo must not be empty.
func (f *fifo[T]) pop() T {
	var zero T
	v := f.buf[f.head]
	f.buf[f.head] = zero // let the GC have it
	f.head = (f.head + 1) % len(f.buf)
	f.n--
	if f.n == 0 {
		f.head = 0
		if len(f.buf) > 1024 {
			// A burst grew the buffer; give the memory back once it drained.
			f.buf = nil
		}
	}
	return v
}

// at returns the i-th oldest element, 0 <= i < len.
func (f *fifo[T]) at(i int) T { return f.buf[(f.head+i)%len(f.buf)] }
