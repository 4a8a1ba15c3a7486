package correlate

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Snapshot file layout (all integers varint-encoded unless said otherwise):
//
//	"VIGILCOR" version
//	watermark
//	partitions: count, then topic (length, bytes), partition, highest offset fed
//	rules: count, then key, fingerprint, type, length of the rule's state, the state
//	CRC-32C of everything before it (4 bytes, little-endian)
//
// A rule's state: groups (oldest first), each: key (16 bytes), mute, encoded group values,
// entries: count, then time (delta from the previous), alert id (16 bytes), payload.
const (
	snapMagic   = "VIGILCOR"
	snapVersion = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Snapshot writes the state and the offsets it reflects to cfg.Snapshot.Path, atomically: a
// crash leaves either the previous snapshot or this one.
func (e *Engine) Snapshot() error {
	path := e.cfg.Snapshot.Path
	if path == "" {
		return errors.New("correlation: no snapshot path configured")
	}
	start := time.Now()
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("correlation snapshot: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("correlation snapshot %s: %w", path, err)
	}
	crc := crc32.New(crcTable)
	bw := bufio.NewWriterSize(f, 1<<20)
	write := func(b []byte) error {
		crc.Write(b)
		_, err := bw.Write(b)
		return err
	}
	if err := write(e.header(nil)); err != nil {
		return fail(err)
	}
	var buf []byte
	size := 0
	for _, w := range e.order {
		r := w.rule()
		buf = appendString(buf[:0], r.Key)
		buf = appendString(buf, r.Fingerprint)
		buf = append(buf, byte(r.Type))
		state := w.save(nil)
		buf = binary.AppendUvarint(buf, uint64(len(state)))
		if err := write(buf); err != nil {
			return fail(err)
		}
		if err := write(state); err != nil {
			return fail(err)
		}
		size += len(state)
	}
	if _, err := bw.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("correlation snapshot %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("correlation snapshot %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable
		d.Close()
	}
	e.log.Debug("correlation state saved", "path", path, "bytes", size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (e *Engine) header(b []byte) []byte {
	b = append(b, snapMagic...)
	b = binary.AppendUvarint(b, snapVersion)
	b = binary.AppendVarint(b, e.wm)
	// Both the offsets fed and those still to be skipped are what the state reflects.
	offs := map[partition]int64{}
	for p, o := range e.replay {
		offs[p] = o
	}
	for p, o := range e.offsets {
		if cur, ok := offs[p]; !ok || o > cur {
			offs[p] = o
		}
	}
	b = binary.AppendUvarint(b, uint64(len(offs)))
	for p, o := range offs {
		b = appendString(b, p.topic)
		b = binary.AppendUvarint(b, uint64(p.id))
		b = binary.AppendVarint(b, o)
	}
	b = binary.AppendUvarint(b, uint64(len(e.order)))
	return b
}

// restore loads a snapshot written by Snapshot. A missing file is not an error.
func (e *Engine) restore(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(data) < len(snapMagic)+4 || string(data[:len(snapMagic)]) != snapMagic {
		return errors.New("not a Vigil correlation snapshot")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return errors.New("checksum mismatch (truncated or corrupt)")
	}
	d := &decoder{b: body[len(snapMagic):]}
	if v := d.uvarint(); v != snapVersion {
		return fmt.Errorf("snapshot version %d, want %d", v, snapVersion)
	}
	wm := d.varint()
	offs := map[partition]int64{}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		p := partition{topic: d.string(), id: int(d.uvarint())}
		offs[p] = d.varint()
	}
	byKey := map[string]ruleWindow{}
	for _, w := range e.order {
		byKey[w.rule().Key+"\x00"+w.rule().Fingerprint] = w
	}
	restored, dropped := 0, 0
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		k, fp := d.string(), d.string()
		typ := Type(d.byte())
		state := d.bytes(int(d.uvarint()))
		if d.err != nil {
			break
		}
		w, ok := byKey[k+"\x00"+fp]
		if !ok || w.rule().Type != typ {
			dropped++
			e.log.Info("correlation state not restored: the rule changed or is gone", "rule", k)
			continue
		}
		rest, err := w.load(state)
		if err == nil && len(rest) > 0 {
			err = errors.New("trailing bytes")
		}
		if err != nil {
			return fmt.Errorf("rule %s: %w", k, err)
		}
		restored++
	}
	if d.err != nil {
		return d.err
	}
	e.wm, e.replay = wm, offs
	e.offsets = map[partition]int64{}
	e.log.Info("correlation state restored", "path", path, "rules", restored, "rules_dropped", dropped,
		"watermark", e.Watermark(), "partitions", len(offs))
	return nil
}

// save appends the window's state.
func (w *window[P]) save(b []byte) []byte {
	keys := w.lru.Keys() // oldest first
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		g, _ := w.lru.Peek(k)
		b = binary.LittleEndian.AppendUint64(b, k.hi)
		b = binary.LittleEndian.AppendUint64(b, k.lo)
		b = binary.AppendVarint(b, g.mute)
		gv := w.gvs[k]
		if p, ok := w.pending[k]; ok {
			gv = p.gv
		}
		b = appendString(b, gv)
		b = binary.AppendUvarint(b, uint64(len(g.es)))
		prev := int64(0)
		for i := range g.es {
			en := &g.es[i]
			b = binary.AppendVarint(b, en.t-prev)
			prev = en.t
			b = append(b, en.id[:]...)
			b = w.k.put(b, en.p)
		}
	}
	return b
}

// load reads what save wrote into the (empty) window.
func (w *window[P]) load(b []byte) ([]byte, error) {
	d := &decoder{b: b}
	for n := d.uvarint(); n > 0 && d.err == nil; n-- {
		var k key
		k.hi, k.lo = d.u64(), d.u64()
		g := &group[P]{mute: d.varint()}
		gv := d.string()
		ne := d.uvarint()
		if d.err != nil || ne > uint64(len(d.b)) {
			return nil, errors.New("truncated state")
		}
		g.es = make([]entry[P], 0, ne)
		prev := int64(0)
		for ; ne > 0 && d.err == nil; ne-- {
			var en entry[P]
			en.t = prev + d.varint()
			prev = en.t
			copy(en.id[:], d.bytes(len(en.id)))
			if d.err != nil {
				break
			}
			p, rest, ok := w.k.get(d.b)
			if !ok {
				return nil, errors.New("bad entry")
			}
			en.p, d.b = p, rest
			g.es = append(g.es, en)
		}
		if d.err != nil {
			break
		}
		if w.lru.Add(k, g) {
			w.evictions.Inc()
		}
		switch {
		case w.closing():
			w.gvs[k] = gv
			w.schedule(k, g)
		case gv != "":
			// Pending when saved: find its window again.
			if _, j, _, ok := w.earliest(g); ok {
				w.pending[k] = pend{due: g.es[j].t, gv: gv}
				heap.Push(&w.due, closing{at: satAdd(g.es[j].t, w.lateness()), k: k})
			}
		}
	}
	return d.b, d.err
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads what the append functions wrote; the first problem sticks in err.
type decoder struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated snapshot")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = errTruncated
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) byte() byte {
	b := d.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) string() string {
	return string(d.bytes(int(d.uvarint())))
}
