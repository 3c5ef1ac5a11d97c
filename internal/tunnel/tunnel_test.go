package tunnel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/hashicorp/yamux"
)

// sessions connects a CLI end and an agent end over an in-memory pipe; the
// agent end serves streams with handle.
func sessions(t *testing.T, handle func(Header, net.Conn)) (cli, agent *yamux.Session) {
	t.Helper()
	a, b := net.Pipe()
	cli, err := Client(a)
	if err != nil {
		t.Fatal(err)
	}
	agent, err = Server(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, agent, handle) }()
	t.Cleanup(func() {
		cancel()
		cli.Close()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Serve: %v", err)
		}
	})
	return cli, agent
}

// echo answers an Outbound stream and sends back what it reads until the
// other side ends writing, then ends its own.
func echo(h Header, c net.Conn) {
	if h.Target == "refused.example:80" {
		_ = WriteReply(c, &RefusedError{"refused.example:80 is not in the ForkProfile's local.allowedDestinations"})
		c.Close()
		return
	}
	if h.Target == "down.example:80" {
		_ = WriteReply(c, errors.New("dial tcp: connection refused"))
		c.Close()
		return
	}
	_ = WriteReply(c, nil)
	_, _ = io.Copy(c, c)
	c.Close()
}

// roundTrip sends body on a new stream, half-closes it, and returns what came
// back before the other side's end.
func roundTrip(s *yamux.Session, body []byte) ([]byte, error) {
	c, err := Open(s, Header{Kind: Outbound, Target: "orders.shop.svc:80"})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(body)
		closeWrite(c) // the echo only ends after our FIN: the half-close is what is tested
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if werr := <-errc; werr != nil {
		return nil, werr
	}
	return got, err
}

func random(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHundredConcurrentStreams(t *testing.T) {
	cli, _ := sessions(t, echo)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := random(t, 64<<10+i)
			got, err := roundTrip(cli, body)
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
				return
			}
			if sha256.Sum256(got) != sha256.Sum256(body) {
				errs <- fmt.Errorf("stream %d: %d bytes came back for %d sent, or different ones", i, len(got), len(body))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestTenMegabyteBody(t *testing.T) {
	cli, _ := sessions(t, echo)
	body := random(t, 10<<20)
	got, err := roundTrip(cli, body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("%d bytes came back for %d sent, or different ones", len(got), len(body))
	}
}

func TestHalfCloseKeepsTheOtherDirectionOpen(t *testing.T) {
	// The agent reads the request to its end, then answers: a client that
	// half-closes after its request (as HTTP/1.0 clients and netcat do) still
	// gets the answer.
	cli, _ := sessions(t, func(h Header, c net.Conn) {
		_ = WriteReply(c, nil)
		req, _ := io.ReadAll(c)
		fmt.Fprintf(c, "read %d bytes", len(req))
		c.Close()
	})
	got, err := roundTrip(cli, []byte("GET / HTTP/1.0\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "read 18 bytes" {
		t.Fatalf("got %q", got)
	}
}

func TestRefusedOutboundIsAnError(t *testing.T) {
	cli, _ := sessions(t, echo)
	_, err := Open(cli, Header{Kind: Outbound, Target: "refused.example:80"})
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Reason != "refused.example:80 is not in the ForkProfile's local.allowedDestinations" {
		t.Fatalf("got %v", err)
	}
	_, err = Open(cli, Header{Kind: Outbound, Target: "down.example:80"})
	var failed *DialError
	if !errors.As(err, &failed) || failed.Reason != "dial tcp: connection refused" {
		t.Fatalf("got %v", err)
	}
}

func TestInboundStreamsFromTheAgent(t *testing.T) {
	// The agent opens a stream per connection to the copy; the CLI serves them.
	got := make(chan Header, 1)
	cli, agent := sessions(t, echo)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = Serve(ctx, cli, func(h Header, c net.Conn) {
			got <- h
			_, _ = io.Copy(c, c)
			c.Close()
		})
	}()
	c, err := Open(agent, Header{Kind: Inbound, Target: "8080"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	closeWrite(c)
	body, err := io.ReadAll(c)
	if err != nil || string(body) != "ping" {
		t.Fatalf("got %q, %v", body, err)
	}
	if h := <-got; h != (Header{Kind: Inbound, Target: "8080"}) {
		t.Fatalf("header %+v", h)
	}
}

func TestPipePassesHalfCloseToTCP(t *testing.T) {
	// A TCP server that answers after the request's end, behind Pipe.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		req, _ := io.ReadAll(c)
		fmt.Fprintf(c, "%d", len(req))
		c.Close()
	}()
	cli, _ := sessions(t, func(h Header, c net.Conn) {
		up, err := net.Dial("tcp", l.Addr().String())
		_ = WriteReply(c, err)
		if err != nil {
			c.Close()
			return
		}
		Pipe(c, up)
	})
	got, err := roundTrip(cli, random(t, 100000))
	if err != nil || string(got) != "100000" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, h := range []Header{{Inbound, "8080"}, {Outbound, "orders.shop.svc.cluster.local:443"}, {Outbound, "[fd00::1]:80"}} {
		var b bytes.Buffer
		if err := WriteHeader(&b, h); err != nil {
			t.Fatal(err)
		}
		got, err := ReadHeader(&b)
		if err != nil || got != h {
			t.Errorf("%+v came back as %+v, %v", h, got, err)
		}
	}
	if err := WriteHeader(io.Discard, Header{Outbound, string(make([]byte, MaxTarget+1))}); err == nil {
		t.Error("an oversized target was written")
	}
	for _, bad := range [][]byte{{'k', 2, 1, 0, 1, '1'}, {'x', 1, 1, 0, 1, '1'}, {'k', 1, 9, 0, 1, '1'}, {'k', 1, 1, 0, 0}, {'k', 1, 1, 0, 5, '1'}} {
		if h, err := ReadHeader(bytes.NewReader(bad)); err == nil {
			t.Errorf("% x read as %+v", bad, h)
		}
	}
}

func FuzzReadHeader(f *testing.F) {
	f.Add([]byte{'k', 1, 1, 0, 4, '8', '0', '8', '0'})
	f.Add([]byte{'k', 1, 2, 0, 6, 'a', ':', '8', '0', 'x', 'y'})
	f.Add([]byte{'k', 1, 3, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadHeader(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What was read is exactly a header's encoding, and writes back the same.
		var b bytes.Buffer
		if err := WriteHeader(&b, h); err != nil {
			t.Fatalf("read %+v, which cannot be written: %v", h, err)
		}
		if !bytes.HasPrefix(data, b.Bytes()) {
			t.Fatalf("read %+v from % x, which writes as % x", h, data, b.Bytes())
		}
	})
}
