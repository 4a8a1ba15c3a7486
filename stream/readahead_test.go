package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestReadAheadConn: a consumer connection hands over the bytes the broker sent, in order,
// whatever the read sizes, writes go straight through, and read deadlines still apply once the
// buffer is drained.
func TestReadAheadConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sent := make([]byte, 3*readAheadBytes+1234)
	for i := range sent {
		sent[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		req := make([]byte, 5)
		if _, err := io.ReadFull(c, req); err != nil {
			got <- nil
			return
		}
		got <- req
		for rest := sent; len(rest) > 0; {
			n := min(len(rest), 1000)
			if _, err := c.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		time.Sleep(2 * time.Second) // hold the connection open, silent, for the deadline check
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dialReadAhead(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if req := <-got; string(req) != "hello" {
		t.Fatalf("server read %q, want hello", req)
	}
	var read []byte
	for i := 0; len(read) < len(sent); i++ {
		buf := make([]byte, 1+i%5000)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(read), err)
		}
		read = append(read, buf[:n]...)
	}
	if !bytes.Equal(read, sent) {
		t.Fatal("bytes read differ from the bytes sent")
	}
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a deadline error", err)
	}
}
