package stack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Ports are the loopback TCP ports of one stack. The zero value is not
// useful; start from DefaultPorts, PortsFrom or FreePorts.
type Ports struct {
	JaegerUI        int // query HTTP API and UI page
	JaegerQueryGRPC int
	JaegerOTLPGRPC  int // where the services export spans
	JaegerOTLPHTTP  int
	JaegerHealth    int
	ProducerHTTP    int
	WorkersGRPC     int
	WorkersHTTP     int
	VendorHTTP      int
	ConsumerGRPC    int
	ConsumerHTTP    int
}

// DefaultPorts are the ports of the README and the compose file, so the URLs
// people know (Jaeger on 16686, the vendor control page on 8082) work natively too.
func DefaultPorts() Ports {
	return Ports{
		JaegerUI:        16686,
		JaegerQueryGRPC: 16685,
		JaegerOTLPGRPC:  4317,
		JaegerOTLPHTTP:  4318,
		JaegerHealth:    13133,
		ProducerHTTP:    8080,
		WorkersGRPC:     9090,
		WorkersHTTP:     8081,
		VendorHTTP:      8082,
		ConsumerGRPC:    9091,
		ConsumerHTTP:    8083,
	}
}

// PortCount is how many consecutive ports PortsFrom uses.
const PortCount = 11

// PortsFrom numbers the ports consecutively from base, in the order of the
// Ports fields: Jaeger UI = base, ..., consumer HTTP = base+10. It lets a
// second stack run beside the default one with one flag.
func PortsFrom(base int) (Ports, error) {
	if base < 1024 || base+PortCount-1 > 65535 {
		return Ports{}, fmt.Errorf("port base %d: want 1024..%d so that %d ports fit", base, 65535-PortCount+1, PortCount)
	}
	return Ports{
		JaegerUI:        base,
		JaegerQueryGRPC: base + 1,
		JaegerOTLPGRPC:  base + 2,
		JaegerOTLPHTTP:  base + 3,
		JaegerHealth:    base + 4,
		ProducerHTTP:    base + 5,
		WorkersGRPC:     base + 6,
		WorkersHTTP:     base + 7,
		VendorHTTP:      base + 8,
		ConsumerGRPC:    base + 9,
		ConsumerHTTP:    base + 10,
	}, nil
}

// FreePorts asks the kernel for distinct free loopback ports. Another process
// may take one before the stack binds it; Start then reports the port as in
// use rather than failing later in a child.
func FreePorts() (Ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	next := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0
		}
		ls = append(ls, l)
		return l.Addr().(*net.TCPAddr).Port
	}
	p := Ports{
		JaegerUI: next(), JaegerQueryGRPC: next(), JaegerOTLPGRPC: next(), JaegerOTLPHTTP: next(),
		JaegerHealth: next(), ProducerHTTP: next(), WorkersGRPC: next(), WorkersHTTP: next(),
		VendorHTTP: next(), ConsumerGRPC: next(), ConsumerHTTP: next(),
	}
	if len(ls) != PortCount {
		return Ports{}, errors.New("free ports: cannot listen on 127.0.0.1")
	}
	return p, nil
}

// FreePortBase finds PortCount consecutive free loopback ports, for
// `bottleneck up --port-base` beside other stacks (tests). The range is
// drawn at random from 20000-59999, so that parallel callers rarely try the
// same one; like FreePorts, a port may still be taken before it is bound.
func FreePortBase() (int, error) {
	for range 100 {
		base := 20000 + rand.IntN(40000)
		if rangeFree(base) {
			return base, nil
		}
	}
	return 0, errors.New("free ports: no range of consecutive free ports on 127.0.0.1")
}

func rangeFree(base int) bool {
	for p := base; p < base+PortCount; p++ {
		l, err := net.Listen("tcp", Addr(p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// Addr is the loopback host:port of a port.
func Addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// HTTPURL is the loopback base URL of a port, without a trailing slash.
func HTTPURL(port int) string { return "http://" + Addr(port) }

// PortInUseError says which port of which process could not be bound.
type PortInUseError struct {
	Port  int
	Owner string // e.g. "workers HTTP_ADDR"
	Err   error
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d (%s) is in use", e.Port, e.Owner)
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// portUse names a port for error messages.
type portUse struct {
	port  int
	owner string
}

// checkFree binds every port briefly so a taken one is reported before any
// process starts, instead of as one child's crash among several logs.
func checkFree(uses []portUse) error {
	seen := make(map[int]string, len(uses))
	var errs []error
	for _, u := range uses {
		if u.port <= 0 || u.port > 65535 {
			errs = append(errs, fmt.Errorf("%s: invalid port %d", u.owner, u.port))
			continue
		}
		if other, dup := seen[u.port]; dup {
			errs = append(errs, fmt.Errorf("port %d is given to both %s and %s", u.port, other, u.owner))
			continue
		}
		seen[u.port] = u.owner
		l, err := net.Listen("tcp", Addr(u.port))
		if err != nil {
			errs = append(errs, &PortInUseError{Port: u.port, Owner: u.owner, Err: err})
			continue
		}
		l.Close()
	}
	return errors.Join(errs...)
}
