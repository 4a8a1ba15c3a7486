package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vigil-detect/vigil/bench/gen"
)

// A lane is a fixed sequence of events that every mode runs over.
type lane struct {
	name     string
	source   string // "generated" or the input file
	data     []byte // the events, back to back
	ends     []int  // ends[i] is where event i ends in data; event i starts at ends[i-1] (or 0)
	hitRate  float64
	injected int64 // suspicious events the generator put in
}

func (l *lane) len() int { return len(l.ends) }

// event returns event i.
func (l *lane) event(i int) []byte {
	start := 0
	if i > 0 {
		start = l.ends[i-1]
	}
	return l.data[start:l.ends[i]:l.ends[i]]
}

func (l *lane) bytes() int64 { return int64(len(l.data)) }

// LaneSpec describes a generated lane.
type LaneSpec struct {
	Name  string
	About string
	Mix   gen.Mix
}

// Lanes are the generated lanes, in the order they run.
var Lanes = []LaneSpec{
	{"process", "Sysmon 1 process creations", gen.Mix{Process: 1}},
	{"file-registry", "Sysmon 11 file creations and 13 registry value writes", gen.Mix{File: 1, Registry: 1}},
	{"logon", "Security 4624, 4625, 4634, 4672", gen.Mix{Logon: 10, Logoff: 7, Privileges: 3}},
	{"proxy", "web proxy requests (c-uri, cs-host, c-useragent...)", gen.Mix{Proxy: 1}},
	{"mixed", "all of the above plus Sysmon 3, in the estate's proportions", mixedMix()},
}

// mixedMix is the estate's default mix with proxy logs added (a fifth of the stream).
func mixedMix() gen.Mix {
	m := gen.DefaultMix
	m.Proxy = 25
	return m
}

// LaneNames lists the generated lanes.
func LaneNames() []string {
	var names []string
	for _, s := range Lanes {
		names = append(names, s.Name)
	}
	return names
}

func laneSpec(name string) (LaneSpec, bool) {
	i := slices.IndexFunc(Lanes, func(s LaneSpec) bool { return s.Name == name })
	if i < 0 {
		return LaneSpec{}, false
	}
	return Lanes[i], true
}

// generate builds n events of a lane. The attack story is off: its kinds of event come from
// the hit catalogue instead, in the lane's kinds only.
func generate(spec LaneSpec, n int, hitRate float64, seed int64) *lane {
	g := gen.New(gen.Options{Seed: seed, AttackAt: -1, Mix: spec.Mix, HitRate: hitRate})
	l := &lane{name: spec.Name, source: "generated", ends: make([]int, 0, n), hitRate: hitRate}
	l.data = make([]byte, 0, n*2048) // room for the largest lane's events (about 1.7 kB each), so it never grows
	for range n {
		l.data = g.Next(l.data)
		l.ends = append(l.ends, len(l.data))
	}
	l.injected = g.Hits()
	return l
}

// readLane reads an NDJSON file: one event per non-blank line (a trailing \r is dropped).
func readLane(path string) (*lane, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l := &lane{name: strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), source: path, hitRate: -1}
	r := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A long line: gather it whole.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) > 0 {
			l.data = append(l.data, line...)
			l.ends = append(l.ends, len(l.data))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
	}
	if l.len() == 0 {
		return nil, fmt.Errorf("%s: no events", path)
	}
	return l, nil
}
