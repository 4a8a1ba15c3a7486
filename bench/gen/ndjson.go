package gen

import (
	"bufio"
	"io"
)

// WriteNDJSON writes n events of a new generator for o to w, one JSON object
// per line.
func WriteNDJSON(w io.Writer, o Options, n int) error {
	g := New(o)
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 4096)
	for range n {
		buf = append(g.Next(buf[:0]), '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}
