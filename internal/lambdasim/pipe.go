package lambdasim

import (
	"context"
	"net"
	"net/http"
	"sync"
)

// Pipe serves a handler (a Server or a World) over in-memory connections:
// no socket and no port. Clients connect with DialContext, which a
// scrape.PoolOptions.Dialer takes. Everything it starts blocks on channels
// only, so a test inside a testing/synctest bubble can run the real SDK
// against the simulated API on the bubble's fake clock.
type Pipe struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	srv   *http.Server
}

// PipeURL is the endpoint to give the SDK; any host would do.
const PipeURL = "http://lambdasim.pipe"

// NewPipe starts serving h; Close stops it.
func NewPipe(h http.Handler) *Pipe {
	p := &Pipe{conns: make(chan net.Conn), done: make(chan struct{}), srv: &http.Server{Handler: h}}
	go func() { _ = p.srv.Serve(pipeListener{p}) }()
	return p
}

// DialContext opens a connection to the handler, whatever the address.
func (p *Pipe) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops serving and closes every open connection.
func (p *Pipe) Close() error {
	p.once.Do(func() { close(p.done) })
	return p.srv.Close()
}

type pipeListener struct{ p *Pipe }

func (l pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.p.conns:
		return c, nil
	case <-l.p.done:
		return nil, net.ErrClosed
	}
}

func (l pipeListener) Close() error {
	l.p.once.Do(func() { close(l.p.done) })
	return nil
}

func (pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "lambdasim.pipe" }
