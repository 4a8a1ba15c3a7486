package gen

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// picker draws an index with probability proportional to its weight.
type picker struct {
	cum []int // cumulative weights
}

func newPicker(weights []int) picker {
	p := picker{cum: make([]int, len(weights))}
	sum := 0
	for i, w := range weights {
		sum += w
		p.cum[i] = sum
	}
	return p
}

// total is the sum of the weights.
func (p *picker) total() int {
	if len(p.cum) == 0 {
		return 0
	}
	return p.cum[len(p.cum)-1]
}

func (p *picker) pick(r *rand.Rand) int {
	i, _ := slices.BinarySearch(p.cum, r.IntN(p.cum[len(p.cum)-1])+1)
	return i
}

// roleTable is the subset of a template list that applies to one role.
type roleTable struct {
	idx []int // template indices
	picker
}

func newRoleTable(r role, n int, meta func(int) (weight int, roles role)) roleTable {
	var t roleTable
	var weights []int
	for i := range n {
		if w, roles := meta(i); roles&r != 0 {
			t.idx = append(t.idx, i)
			weights = append(weights, w)
		}
	}
	t.picker = newPicker(weights)
	return t
}

func (t *roleTable) pick(r *rand.Rand) int { return t.idx[t.picker.pick(r)] }

// roleIndex maps a role to its index in the per-role tables.
func roleIndex(r role) int {
	switch r {
	case roleDC:
		return 0
	case roleServer:
		return 1
	}
	return 2
}

// background emits one background event of a randomly chosen kind.
func (g *Generator) background(dst []byte, t time.Time) []byte {
	switch g.kinds.pick(g.rng) {
	case kindProcess:
		return g.backgroundProcess(dst, t)
	case kindNetwork:
		return g.backgroundNetwork(dst, t)
	case kindFile:
		return g.backgroundFile(dst, t)
	case kindRegistry:
		return g.backgroundRegistry(dst, t)
	case kindLogon:
		return g.backgroundLogon(dst, t)
	case kindLogoff:
		return g.backgroundLogoff(dst, t)
	case kindPrivileges:
		h := g.randomHost()
		return g.appendSpecialPrivileges(dst, h, t, "SYSTEM", "NT AUTHORITY", "S-1-5-18", 0x3e7, privSystem)
	default:
		return g.backgroundProxy(dst, t)
	}
}

// Event kinds, in the order of Mix.weights.
const (
	kindProcess = iota
	kindNetwork
	kindFile
	kindRegistry
	kindLogon
	kindLogoff
	kindPrivileges
	kindProxy
)

func (g *Generator) randomHost() *host { return &g.e.hosts[g.rng.IntN(len(g.e.hosts))] }

// hostUser is the user whose profile %u-codes refer to on h.
func (g *Generator) hostUser(h *host) *user {
	if h.user >= 0 {
		return &g.e.users[h.user]
	}
	return nil
}

// sysmonUTC is the Sysmon UtcTime of an event logged at t: a few ms earlier.
func (g *Generator) sysmonUTC(t time.Time) time.Time {
	return t.Add(-time.Duration(g.rng.IntN(4000)) * time.Microsecond)
}

// newPID draws a process id (Windows ids are multiples of 4).
func (g *Generator) newPID() int64 { return 4 * (250 + g.rng.Int64N(5000)) }

// ephemeralPort draws a client port from the Windows dynamic range.
func (g *Generator) ephemeralPort() int64 { return 49152 + g.rng.Int64N(16384) }

// account resolves an acctKind for a new process on h.
func (g *Generator) account(h *host, k acctKind, parent *proc) *account {
	switch k {
	case acctUser:
		return &h.interactive
	case acctSystem:
		return &h.system
	case acctNetworkSvc:
		return &h.networkService
	case acctLocalSvc:
		return &h.localService
	}
	return parent.acct
}

func (g *Generator) backgroundProcess(dst []byte, t time.Time) []byte {
	h := g.randomHost()
	tp := &procTemplates[g.procs[roleIndex(h.role)].pick(g.rng)]
	u := g.hostUser(h)
	parent := &h.procs[tp.parent]
	cwd := tp.cwd
	if cwd == "" {
		cwd = `C:\Windows\system32\`
	}
	return g.appendNewProcess(dst, h, u, t, tp.img, tp.cmd, cwd, parent, g.account(h, tp.acct, parent))
}

// appendNewProcess writes the creation of a new process of img by parent, running as acct; cmd
// and cwd are templates expanded for h and u.
func (g *Generator) appendNewProcess(dst []byte, h *host, u *user, t time.Time, img *image, cmd, cwd string, parent *proc, acct *account) []byte {
	g.bufPath = g.expand(g.bufPath[:0], img.path, h, u)
	g.bufCmd = g.expand(g.bufCmd[:0], cmd, h, u)
	g.bufCwd = g.expand(g.bufCwd[:0], cwd, h, u)
	utc := g.sysmonUTC(t)
	h.seq++
	e := procEvent{
		img: img, path: g.bufPath, cmd: g.bufCmd, cwd: g.bufCwd,
		pid:    g.newPID(),
		guid:   processGUID(h.guidHi, utc.Unix(), h.seq, h.guidTail),
		acct:   acct,
		parent: parent,
		utc:    utc,
	}
	return g.appendProcCreate(dst, h, t, &e)
}

func (g *Generator) backgroundNetwork(dst []byte, t time.Time) []byte {
	h := g.randomHost()
	tn := &netTemplates[g.nets[roleIndex(h.role)].pick(g.rng)]
	e := netEvent{
		p: &h.procs[tn.proc], srcIP: h.ip, srcHost: h.fqdn, srcPort: g.ephemeralPort(),
		dstPort: tn.port, dstPortName: tn.portName, utc: g.sysmonUTC(t),
	}
	switch tn.dest {
	case toInternet:
		s := &tn.sites[g.rng.IntN(len(tn.sites))]
		e.dstIP, e.dstHost = s.ip, s.name
	default:
		var d *host
		switch tn.dest {
		case toDC:
			d = &g.e.hosts[g.e.dcs[g.rng.IntN(len(g.e.dcs))]]
		case toFileServer:
			d = &g.e.hosts[g.e.fileServer]
		default:
			d = &g.e.hosts[g.e.sqlServer]
		}
		e.dstIP, e.dstHost = d.ip, d.fqdn
	}
	return g.appendNetConn(dst, h, t, &e)
}

func (g *Generator) backgroundFile(dst []byte, t time.Time) []byte {
	h := g.randomHost()
	tf := &fileTemplates[g.files[roleIndex(h.role)].pick(g.rng)]
	g.bufAux = g.expand(g.bufAux[:0], tf.path, h, g.hostUser(h))
	return g.appendFileCreate(dst, h, t, &h.procs[tf.proc], g.bufAux, g.sysmonUTC(t))
}

func (g *Generator) backgroundRegistry(dst []byte, t time.Time) []byte {
	h := g.randomHost()
	tr := &regTemplates[g.regs[roleIndex(h.role)].pick(g.rng)]
	u := g.hostUser(h)
	g.bufAux = g.expand(g.bufAux[:0], tr.key, h, u)
	g.bufCwd = g.expand(g.bufCwd[:0], tr.details, h, u)
	return g.appendRegSet(dst, h, t, &h.procs[tr.proc], g.bufAux, g.bufCwd, g.sysmonUTC(t))
}

// ---- Logons -----------------------------------------------------------------

// logonRec is an open network (type 3) logon session that a later 4634 closes.
type logonRec struct {
	host    int32
	user    int32 // index into users, or -1 for the machine account of machine
	machine int32
	logonID uint64
}

// logonRing holds a bounded set of open sessions.
type logonRing struct {
	recs [512]logonRec
	n    int
}

func (r *logonRing) push(rng *rand.Rand, rec logonRec) {
	if r.n < len(r.recs) {
		r.recs[r.n] = rec
		r.n++
		return
	}
	r.recs[rng.IntN(len(r.recs))] = rec
}

func (r *logonRing) pop(rng *rand.Rand) (logonRec, bool) {
	if r.n == 0 {
		return logonRec{}, false
	}
	i := rng.IntN(r.n)
	rec := r.recs[i]
	r.n--
	r.recs[i] = r.recs[r.n]
	return rec, true
}

// pendingPriv is the 4672 Windows logs right after an administrator's 4624.
type pendingPriv struct {
	due     bool
	host    int
	user    int
	logonID uint64
}

func (g *Generator) emitPending(dst []byte, t time.Time) []byte {
	p := &g.pending
	p.due = false
	u := &g.e.users[p.user]
	return g.appendSpecialPrivileges(dst, &g.e.hosts[p.host], t, u.name, domainNB, u.sid, p.logonID, privAdmin)
}

// newLogonID draws a LogonId for a new session.
func (g *Generator) newLogonID() uint64 { return uint64(0x100000 + g.rng.Int64N(0x7f00000)) }

// backgroundLogon emits a benign 4624: Kerberos network logons of users and
// machine accounts to servers and DCs, interactive logons of users on their
// workstations and internal RDP of IT staff to servers.
func (g *Generator) backgroundLogon(dst []byte, t time.Time) []byte {
	es := g.e
	id := g.newLogonID()
	r := g.rng.Uint64()
	kerberos := makeGUID(uint32(r), uint16(r>>32), uint16(r>>48), uint16(g.rng.Uint32()), g.rng.Uint64()>>16)
	e := logonEvent{
		logonID: id, logonGUID: &kerberos, domain: domainNB,
		lmPkg: "-", restrictedAdmin: "-", procName: "-",
	}
	rec := logonRec{machine: -1, logonID: id}
	hi, ui := 0, -1
	switch r := g.rng.IntN(100); {
	case r < 45: // user → file server, DC or another server
		ui = g.rng.IntN(len(es.users))
		u := &es.users[ui]
		switch r := g.rng.IntN(100); {
		case r < 60:
			hi = es.fileServer
		case r < 85:
			hi = es.dcs[g.rng.IntN(len(es.dcs))]
		default:
			hi = es.servers[g.rng.IntN(len(es.servers))]
		}
		e.logonType, e.user, e.sid = 3, u.name, u.sid
		e.ip, e.port, e.workstation = es.hosts[u.ws].ip, g.ephemeralPort(), "-"
		e.logonProcess, e.authPackage = "Kerberos", "Kerberos"
		e.subjectNull()
	case r < 70: // machine account → DC
		m := g.rng.IntN(len(es.hosts))
		mh := &es.hosts[m]
		hi = es.dcs[g.rng.IntN(len(es.dcs))]
		e.logonType, e.user, e.sid = 3, mh.machine, mh.machineSID
		e.ip, e.port, e.workstation = mh.ip, g.ephemeralPort(), "-"
		e.logonProcess, e.authPackage = "Kerberos", "Kerberos"
		e.subjectNull()
		rec.machine = int32(m)
	case r < 90: // interactive logon (or unlock) on a workstation
		hi = es.workstations[g.rng.IntN(len(es.workstations))]
		h := &es.hosts[hi]
		ui = h.user
		u := &es.users[ui]
		e.logonType, e.user, e.sid = 2, u.name, u.sid
		e.ip, e.port, e.workstation = "127.0.0.1", 0, h.name
		e.logonProcess, e.authPackage = "User32 ", "Negotiate"
		e.procID, e.procName = uint64(h.procs[pSvcNetsvcs].pid), imgSvchost.path
		e.subjectMachine(h)
	default: // IT staff RDP to a server, from their own workstation
		ui = 3 + 20*g.rng.IntN((len(es.users)-3+19)/20)
		u := &es.users[ui]
		hi = es.servers[g.rng.IntN(len(es.servers))]
		h, src := &es.hosts[hi], &es.hosts[u.ws]
		e.logonType, e.user, e.sid = 10, u.name, u.sid
		e.ip, e.port, e.workstation = src.ip, 0, src.name
		e.logonProcess, e.authPackage = "User32 ", "Negotiate"
		e.procID, e.procName = uint64(h.procs[pSvcNetsvcs].pid), imgSvchost.path
		e.restrictedAdmin = "%%1843"
		e.subjectMachine(h)
	}
	if ui >= 0 && es.users[ui].admin {
		e.elevated = true
		g.pending = pendingPriv{due: true, host: hi, user: ui, logonID: id}
	}
	if e.logonType == 3 { // network sessions end soon; desktop sessions outlive the stream
		rec.host, rec.user = int32(hi), int32(ui)
		g.logons.push(g.rng, rec)
	}
	return g.appendLogon(dst, &es.hosts[hi], t, &e)
}

// backgroundLogoff closes an open session with a 4634.
func (g *Generator) backgroundLogoff(dst []byte, t time.Time) []byte {
	rec, ok := g.logons.pop(g.rng)
	if !ok {
		return g.backgroundLogon(dst, t)
	}
	h := &g.e.hosts[rec.host]
	if rec.user < 0 {
		m := &g.e.hosts[rec.machine]
		return g.appendLogoff(dst, h, t, m.machine, domainNB, m.machineSID, rec.logonID, 3)
	}
	u := &g.e.users[rec.user]
	return g.appendLogoff(dst, h, t, u.name, domainNB, u.sid, rec.logonID, 3)
}

// backgroundFailure emits a benign 4625: a user mistyping their password at
// their workstation or when mapping a share. They are rare (see
// meanFailureGap), spread over users and always from inside the estate.
func (g *Generator) backgroundFailure(dst []byte, t time.Time) []byte {
	es := g.e
	u := &es.users[g.rng.IntN(len(es.users))]
	ws := &es.hosts[u.ws]
	e := logonEvent{
		user: u.name, domain: domainNB, lmPkg: "-", procName: "-",
		status: "0xc000006d", subStatus: "0xc000006a",
	}
	h := ws
	if g.rng.IntN(2) == 0 {
		e.logonType, e.ip, e.port, e.workstation = 2, "127.0.0.1", 0, ws.name
		e.logonProcess, e.authPackage = "User32 ", "Negotiate"
		e.procID, e.procName = uint64(ws.procs[pSvcNetsvcs].pid), imgSvchost.path
		e.subjectMachine(ws)
	} else {
		h = &es.hosts[es.fileServer]
		e.logonType, e.ip, e.port, e.workstation = 3, ws.ip, g.ephemeralPort(), ws.name
		e.logonProcess, e.authPackage = "NtLmSsp ", "NTLM"
		e.subjectNull()
	}
	return g.appendLogonFailure(dst, h, t, &e)
}

// ---- %-expansion ----------------------------------------------------------

// expand appends tpl to buf with its %-codes (see catalog.go) replaced.
func (g *Generator) expand(buf []byte, tpl string, h *host, u *user) []byte {
	for i := 0; i < len(tpl); i++ {
		c := tpl[i]
		if c != '%' || i+1 == len(tpl) {
			buf = append(buf, c)
			continue
		}
		i++
		switch tpl[i] {
		case 'u':
			if u != nil {
				buf = append(buf, u.name...)
			} else {
				buf = append(buf, "Default"...)
			}
		case 's':
			if u != nil {
				buf = append(buf, u.sid...)
			} else {
				buf = append(buf, "S-1-5-18"...)
			}
		case 'h':
			buf = append(buf, h.name...)
		case 'i':
			buf = append(buf, h.ip...)
		case 'f':
			buf = append(buf, g.e.hosts[g.e.fileServer].name...)
		case 'd':
			buf = append(buf, g.e.hosts[g.e.dcs[0]].name...)
		case 'a':
			buf = append(buf, g.attackerIP()...)
		case 'n':
			buf = strconv.AppendInt(buf, 1000+g.rng.Int64N(99000), 10)
		case 'x':
			buf = appendHexDigits(buf, uint64(g.rng.Uint32()), 8, false)
		case 'X':
			buf = appendHexDigits(buf, uint64(g.rng.Uint32()), 8, true)
		case 'g':
			r := g.rng.Uint64()
			id := makeGUID(uint32(r), uint16(r>>32), 0x4000|uint16(r>>48)&0x0fff, 0x8000|uint16(g.rng.Uint32())&0x3fff, g.rng.Uint64()>>16)
			buf = append(buf, id[:]...)
		default:
			buf = append(buf, '%', tpl[i])
		}
	}
	return buf
}

// appendHexDigits appends the low 4*n bits of v as n hex digits.
func appendHexDigits(buf []byte, v uint64, n int, upper bool) []byte {
	digits := "0123456789abcdef"
	if upper {
		digits = hexUpper
	}
	for i := n - 1; i >= 0; i-- {
		buf = append(buf, digits[(v>>(4*i))&0xf])
	}
	return buf
}
