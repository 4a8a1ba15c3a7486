package enrich

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Enricher holds the current Data and replaces it when the files change. A reload that fails
// keeps the previous data: a typo in a feed must not blind the agent.
type Enricher struct {
	src    Sources
	data   atomic.Pointer[Data]
	mu     sync.Mutex // serialises reloads
	stamps map[string]stamp
}

type stamp struct {
	mod  time.Time
	size int64
}

// New loads the files; they must all read cleanly.
func New(src Sources) (*Enricher, error) {
	e := &Enricher{src: src}
	if err := e.Reload(); err != nil {
		return nil, err
	}
	return e, nil
}

// Data is the current load (never nil after New).
func (e *Enricher) Data() *Data { return e.data.Load() }

func (e *Enricher) files() []string {
	var out []string
	for _, l := range e.src.Lists {
		out = append(out, l.File)
	}
	return append(out, e.src.Assets...)
}

func (e *Enricher) stat() map[string]stamp {
	st := map[string]stamp{}
	for _, f := range e.files() {
		if fi, err := os.Stat(f); err == nil {
			st[f] = stamp{fi.ModTime(), fi.Size()}
		}
	}
	return st
}

// Reload reads every file again and swaps the result in.
func (e *Enricher) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.stat()
	d, err := Load(e.src)
	if err != nil {
		return err
	}
	e.stamps = st
	e.data.Store(d)
	return nil
}

// ReloadIfChanged reloads when a file's modification time or size changed since the last
// successful load. A failed reload is retried on the next call only if the files change again.
func (e *Enricher) ReloadIfChanged() (bool, error) {
	e.mu.Lock()
	st := e.stat()
	same := len(st) == len(e.stamps)
	for f, s := range st {
		if e.stamps[f] != s {
			same = false
		}
	}
	if same {
		e.mu.Unlock()
		return false, nil
	}
	d, err := Load(e.src)
	e.stamps = st
	if err == nil {
		e.data.Store(d)
	}
	e.mu.Unlock()
	return true, err
}

// Watch polls the files every interval until ctx ends; report hears of every reload attempt.
func (e *Enricher) Watch(ctx context.Context, interval time.Duration, report func(err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if changed, err := e.ReloadIfChanged(); changed {
				report(err)
			}
		}
	}
}
