package respond

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vigil-detect/vigil/respond/enrich"
)

// allowlist holds what no action touches. Loopback and unspecified addresses are always on it.
type allowlist struct {
	nets  []netip.Prefix
	users map[string]bool
	hosts map[string]bool // full names, lower case
	short map[string]bool // entries given without a domain, lower case
	first map[string]bool // first label of every entry
}

func newAllowlist(c Allowlist) *allowlist {
	l := &allowlist{users: map[string]bool{}, hosts: map[string]bool{}, short: map[string]bool{}, first: map[string]bool{}}
	for _, s := range append([]string{"127.0.0.0/8", "::1/128", "0.0.0.0/32", "::/128"}, c.CIDRs...) {
		if p, err := parsePrefix(s); err == nil { // validated with the configuration
			l.nets = append(l.nets, p)
		}
	}
	for _, u := range c.Users {
		l.users[enrich.NormalUser(u)] = true
	}
	for _, h := range c.Hosts {
		h = enrich.NormalHost(h)
		l.hosts[h] = true
		f, _, dotted := strings.Cut(h, ".")
		l.first[f] = true
		if !dotted {
			l.short[h] = true
		}
	}
	return l
}

// contains reports whether a target of the type is allowlisted. A host matches by its full
// name, or by its first label when either side is given without a domain.
func (l *allowlist) contains(typ, value string) bool {
	switch typ {
	case TargetIP:
		a, err := netip.ParseAddr(value)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range l.nets {
			if p.Contains(a) {
				return true
			}
		}
	case TargetUser:
		return l.users[enrich.NormalUser(value)]
	case TargetHost:
		h := enrich.NormalHost(value)
		if l.hosts[h] {
			return true
		}
		f, _, dotted := strings.Cut(h, ".")
		if dotted {
			return l.short[f]
		}
		return l.first[h]
	}
	return false
}

// bucket is a token bucket: n actions per period, bursting up to n.
type bucket struct {
	cap, tokens float64
	per         time.Duration
	last        time.Time
}

func newBucket(r rate) *bucket {
	if r.n == 0 {
		return nil // unlimited
	}
	return &bucket{cap: float64(r.n), tokens: float64(r.n), per: r.period}
}

func (b *bucket) available(now time.Time) bool {
	if b == nil {
		return true
	}
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.cap, b.tokens+b.cap*float64(now.Sub(b.last))/float64(b.per))
	}
	if now.After(b.last) {
		b.last = now
	}
	return b.tokens >= 1
}

func (b *bucket) take() {
	if b != nil {
		b.tokens--
	}
}

// gate applies the rate limits, cooldowns and circuit breakers of one mode. Dry-run and
// enforce decisions have separate gates, so that rehearsing a playbook never uses up what a
// live one may do, while the audit still shows what the guard rails would have done.
type gate struct {
	mu      sync.Mutex
	mode    string
	now     func() time.Time
	global  *bucket
	actions map[string]*actionGate
	onTrip  func(action, mode string, open bool)
}

type actionGate struct {
	bucket     *bucket
	cooldown   time.Duration
	recent     *lru.Cache[string, time.Time] // target → when last acted on
	maxTargets int
	targets    map[string]time.Time // distinct targets acted on in the last minute
	reset      time.Duration
	openUntil  time.Time
}

func newGate(mode string, now func() time.Time, global rate, onTrip func(string, string, bool)) *gate {
	return &gate{mode: mode, now: now, global: newBucket(global), actions: map[string]*actionGate{}, onTrip: onTrip}
}

func (g *gate) add(a *action) {
	recent, _ := lru.New[string, time.Time](65536)
	g.actions[a.name] = &actionGate{
		bucket: newBucket(a.rate), cooldown: a.cooldown, recent: recent,
		maxTargets: a.maxTargets, targets: map[string]time.Time{}, reset: a.breakerReset,
	}
}

// admit decides whether action may act on target now; on success it takes the tokens and
// starts the cooldown. It returns the reason when not.
func (g *gate) admit(action, target string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	ag := g.actions[action]
	if !ag.openUntil.IsZero() {
		if now.Before(ag.openUntil) {
			return ReasonCircuitOpen
		}
		ag.openUntil = time.Time{}
		clear(ag.targets)
		g.onTrip(action, g.mode, false)
	}
	if last, ok := ag.recent.Get(target); ok && ag.cooldown > 0 && now.Sub(last) < ag.cooldown {
		return ReasonCooldown
	}
	if ag.maxTargets > 0 {
		for t, at := range ag.targets {
			if now.Sub(at) >= time.Minute {
				delete(ag.targets, t)
			}
		}
		if _, known := ag.targets[target]; !known && len(ag.targets) >= ag.maxTargets {
			ag.openUntil = now.Add(ag.reset)
			g.onTrip(action, g.mode, true)
			return ReasonCircuitOpen
		}
	}
	if !ag.bucket.available(now) {
		return ReasonRateLimited
	}
	if !g.global.available(now) {
		return ReasonGlobalRateLimited
	}
	ag.bucket.take()
	g.global.take()
	ag.recent.Add(target, now)
	if ag.maxTargets > 0 {
		if _, known := ag.targets[target]; !known {
			ag.targets[target] = now
		}
	}
	return ""
}
