// Package gen generates a deterministic stream of realistic Windows security
// telemetry: Sysmon and Security events, flattened the way SigmaHQ's
// regression data is (EventData members at the top level, EventID and
// EventRecordID as JSON numbers, every other value a string).
//
// The stream is background activity of a simulated estate (the NORTHWIND
// domain: domain controllers, member servers and workstations in 10.0.0.0/8)
// with an attack story woven in at Options.AttackAt: a password spray, a
// brute force ending in an RDP logon from the Internet, then discovery,
// tool download, credential dumping and shadow copy deletion on the
// compromised workstation. See story.go for the exact timeline.
//
// Options.Mix narrows or widens the mix of background kinds (a stream of
// process creations only, or one with web proxy requests: see proxy.go), and
// Options.HitRate replaces that fraction of events by suspicious ones drawn
// from a catalogue (hits.go) that SigmaHQ and the starter rules detect.
//
// The same Options (including Seed) always produce the same bytes. The
// estate itself (host and user names, addresses, process ids) depends only
// on Hosts and Users, so the story names the same hosts and users for any
// seed; the seed drives the background activity.
package gen

import (
	"math"
	"math/rand/v2"
	"time"
)

// Options configures a Generator. The zero value means the defaults.
type Options struct {
	Seed     int64         // same seed + same options => byte-identical stream
	Start    time.Time     // event time of the first event (zero: 2026-01-01T00:00:00Z)
	Rate     float64       // events per second of event time; event i has time Start + i/Rate (default 1000)
	AttackAt time.Duration // event-time offset at which the attack story begins (default 3s); negative: no attack
	Hosts    int           // hosts of the simulated estate (default 50, at least 4)
	Users    int           // users of the simulated estate (default 200, at least 30)
	Mix      Mix           // background kinds by relative weight (zero: DefaultMix)
	HitRate  float64       // fraction of events replaced by suspicious ones from the catalogue (0: none; at most 1)
}

// Mix weighs the kinds of background event. Negative weights count as zero;
// a Mix whose weights are all zero means DefaultMix.
type Mix struct {
	Process    int // Sysmon 1
	Network    int // Sysmon 3
	File       int // Sysmon 11
	Registry   int // Sysmon 13
	Logon      int // Security 4624 (followed by 4672 for admins); when > 0, also the rare typo 4625s
	Logoff     int // Security 4634
	Privileges int // Security 4672 for SYSTEM
	Proxy      int // web proxy request (see proxy.go)
}

// DefaultMix is the background of the simulated estate: Windows telemetry, no proxy logs.
var DefaultMix = Mix{Process: 34, Network: 20, File: 13, Registry: 13, Logon: 10, Logoff: 7, Privileges: 3}

// weights lists the mix in the order of the generator's kind picker.
func (m Mix) weights() []int {
	w := []int{m.Process, m.Network, m.File, m.Registry, m.Logon, m.Logoff, m.Privileges, m.Proxy}
	sum := 0
	for i := range w {
		w[i] = max(w[i], 0)
		sum += w[i]
	}
	if sum == 0 {
		return DefaultMix.weights()
	}
	return w
}

// Defaults and lower bounds of Options.
const (
	DefaultRate     = 1000
	DefaultAttackAt = 3 * time.Second
	DefaultHosts    = 50
	DefaultUsers    = 200
	MinHosts        = 4
	MinUsers        = 30
)

// DefaultStart is the event time of the first event when Options.Start is zero.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// meanFailureGap is the mean event-time gap between two background failed
// logons (typos), whatever the rate: about three a minute over the estate.
const meanFailureGap = 20 * time.Second

// Generator produces the event stream. It is not safe for concurrent use.
type Generator struct {
	opt   Options
	rng   *rand.Rand
	e     *estate
	n     int64         // index of the next event
	off   time.Duration // its event-time offset from Start
	story []step
	pos   int // next story step

	nextFailure time.Duration // offset of the next background 4625
	pending     pendingPriv   // 4672 owed to the last admin logon
	logons      logonRing     // open logon sessions, closed by 4634

	kinds                    picker
	weights                  []int        // the mix, in kind order (see Mix.weights)
	procs, nets, files, regs [3]roleTable // per role index, see roleIndex

	hitKinds picker     // kind of the next hit, weighted by the mix (see hitKind)
	hits     int64      // suspicious events emitted (not counting the story)
	hitProc  proc       // scratch parent and actor of hit events
	proxy    proxyState // see proxy.go

	bufPath, bufCmd, bufCwd, bufAux []byte // scratch for %-expansion
}

// New returns a generator for o, with defaults filled in.
func New(o Options) *Generator {
	if o.Start.IsZero() {
		o.Start = DefaultStart
	}
	o.Start = o.Start.UTC()
	if !(o.Rate > 0) || math.IsInf(o.Rate, 0) {
		o.Rate = DefaultRate
	}
	if o.AttackAt == 0 {
		o.AttackAt = DefaultAttackAt
	}
	if o.Hosts <= 0 {
		o.Hosts = DefaultHosts
	}
	if o.Users <= 0 {
		o.Users = DefaultUsers
	}
	o.Hosts, o.Users = max(o.Hosts, MinHosts), max(o.Users, MinUsers)
	if !(o.HitRate > 0) {
		o.HitRate = 0
	}
	o.HitRate = min(o.HitRate, 1)

	g := &Generator{
		opt:     o,
		rng:     rand.New(rand.NewPCG(uint64(o.Seed), 0x5669_6769_6c21)),
		e:       newEstate(o.Hosts, o.Users, o.Start),
		bufPath: make([]byte, 0, 256),
		bufCmd:  make([]byte, 0, 1024),
		bufCwd:  make([]byte, 0, 256),
		bufAux:  make([]byte, 0, 256),
	}
	g.weights = o.Mix.weights()
	g.kinds = newPicker(g.weights)
	g.hitKinds = newHitPicker(g.weights)
	for ri, r := range []role{roleDC, roleServer, roleWorkstation} {
		g.procs[ri] = newRoleTable(r, len(procTemplates), func(i int) (int, role) { return procTemplates[i].weight, procTemplates[i].roles })
		g.nets[ri] = newRoleTable(r, len(netTemplates), func(i int) (int, role) { return netTemplates[i].weight, netTemplates[i].roles })
		g.files[ri] = newRoleTable(r, len(fileTemplates), func(i int) (int, role) { return fileTemplates[i].weight, fileTemplates[i].roles })
		g.regs[ri] = newRoleTable(r, len(regTemplates), func(i int) (int, role) { return regTemplates[i].weight, regTemplates[i].roles })
	}
	g.nextFailure = g.failureGap()
	if g.weights[kindLogon] == 0 {
		g.nextFailure = math.MaxInt64 // no logons, no typos
	}
	g.proxy.init(g)
	if o.AttackAt >= 0 {
		g.story = g.newStory(o.AttackAt)
	}
	return g
}

// Options returns the options in effect, defaults filled in.
func (g *Generator) Options() Options { return g.opt }

// Time returns the event time of the event Next will produce next.
func (g *Generator) Time() time.Time { return g.opt.Start.Add(g.off) }

// StoryDone reports whether every attack-story event has been emitted. It is
// true from the start when the attack is disabled.
func (g *Generator) StoryDone() bool { return g.pos >= len(g.story) }

// Next appends the next event (one JSON object, no trailing newline) to dst
// and returns the extended slice. In steady state it allocates nothing
// beyond growing dst.
func (g *Generator) Next(dst []byte) []byte {
	t := g.Time()
	switch {
	case g.pos < len(g.story) && g.off >= g.story[g.pos].at:
		dst = g.story[g.pos].emit(dst, t)
		g.pos++
	case g.off >= g.nextFailure:
		dst = g.backgroundFailure(dst, t)
		g.nextFailure += g.failureGap()
	case g.pending.due:
		dst = g.emitPending(dst, t)
	case g.opt.HitRate > 0 && g.hitKinds.total() > 0 && g.rng.Float64() < g.opt.HitRate:
		dst = g.hit(dst, t)
		g.hits++
	default:
		dst = g.background(dst, t)
	}
	g.n++
	g.off = time.Duration(math.Round(float64(g.n) * 1e9 / g.opt.Rate))
	return dst
}

// Hits returns how many events so far were suspicious ones from the catalogue
// (Options.HitRate); attack-story events are not counted.
func (g *Generator) Hits() int64 { return g.hits }

// failureGap draws the event-time gap to the next background failed logon.
func (g *Generator) failureGap() time.Duration {
	return time.Second + time.Duration(g.rng.ExpFloat64()*float64(meanFailureGap-time.Second))
}
