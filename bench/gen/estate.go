package gen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The simulated Active Directory domain.
const (
	domainNB  = "NORTHWIND"
	domainDNS = "northwind.local"
	domainSID = "S-1-5-21-3623811015-3361044348-30300820"
)

// role is what a host does in the estate.
type role uint8

const (
	roleDC role = 1 << iota
	roleServer
	roleWorkstation

	roleAny = roleDC | roleServer | roleWorkstation
)

// user is a domain user of the estate.
type user struct {
	name      string // sAMAccountName, e.g. "anna.schmidt"
	qualified string // NORTHWIND\anna.schmidt
	sid       string
	ws        int  // index (into estate.hosts) of the workstation the user works on
	admin     bool // IT staff: RDPs into servers, gets special privileges at logon
}

// account is the security context a process runs in (Sysmon's User,
// LogonId, LogonGuid, TerminalSessionId and IntegrityLevel).
type account struct {
	name      string // NT AUTHORITY\SYSTEM, NORTHWIND\anna.schmidt, ...
	logonID   uint64
	logonGUID guid
	session   int64
	integrity string
}

// proc is a long-running process that parents the short-lived ones.
type proc struct {
	path string // image path (expanded for the host's user)
	img  *image
	cmd  string
	pid  int64
	guid guid
	acct *account
}

// procKind names a host's long-running processes.
type procKind uint8

const (
	pSystem procKind = iota
	pWinlogon
	pServices
	pLsass
	pSvcDcom     // svchost -k DcomLaunch
	pSvcSchedule // svchost -k netsvcs -s Schedule
	pSvcNetsvcs  // svchost -k netsvcs
	pSvcLocal    // svchost -k LocalService
	pMsMpEng
	pSqlservr // SQL servers only
	// Interactive session of the workstation's user.
	pExplorer
	pChrome
	pOutlook
	pTeams
	pCode
	pOneDrive
	pCmd
	numProcKinds
)

// host is a machine of the estate.
type host struct {
	name, fqdn, ip string
	machine        string // machine account, "NW-WS101$"
	machineSID     string
	role           role
	guidHi         uint32 // first group of this machine's Sysmon GUIDs
	guidTail       uint64 // last group of its Sysmon process GUIDs
	boot           int64  // boot time, Unix seconds
	sysmonPID      int64
	sysmonTID      int64
	lsassPID       int64
	recSysmon      int64 // last EventRecordID of each channel
	recSecurity    int64
	seq            uint16 // Sysmon process counter
	activity       guid   // Security Correlation_ActivityID
	user           int    // index of the workstation's user, -1 on servers
	system         account
	localService   account
	networkService account
	interactive    account // the user's desktop session (workstations)
	procs          [numProcKinds]proc
}

// estate is the simulated organisation. It depends on the host and user
// counts only, never on the seed, so the attack story names the same hosts
// and users whatever the seed.
type estate struct {
	hosts        []host
	users        []user
	dcs          []int // host indices per role
	servers      []int
	workstations []int
	fileServer   int // the file server, target of most SMB traffic
	sqlServer    int
}

var firstNames = []string{
	"anna", "ben", "carla", "david", "elena", "felix", "grace", "hugo",
	"ines", "jonas", "kate", "leon", "maria", "nils", "olivia", "paul",
	"quentin", "rosa", "sam", "tara", "umar", "vera", "will", "xenia",
	"yusuf", "zoe", "adam", "bianca", "chris", "diana", "emil", "fatima",
}

var lastNames = []string{
	"schmidt", "mueller", "garcia", "nguyen", "smith", "kowalski", "rossi", "dubois",
	"jensen", "silva", "novak", "tanaka", "oconnor", "haddad", "fischer", "weber",
	"lopez", "kim", "patel", "moreau", "berg", "costa", "meyer", "ivanova",
	"brown", "wagner", "lindqvist", "santos", "hoffmann", "cohen", "okafor", "becker",
}

// serverNames are the member servers, in order; more are numbered NW-SRVnnn.
var serverNames = []string{"FS01", "SQL01", "APP01", "RDS01", "WEB01", "BAK01", "PRN01", "FS02"}

// userName returns the i-th user name; names are unique for any i.
func userName(i int) string {
	f, l := len(firstNames), len(lastNames)
	q := i / f
	name := firstNames[i%f] + "." + lastNames[(q*(f+1)+i)%l] // bijective over f*l users
	if i >= f*l {
		name += fmt.Sprint(i / (f * l))
	}
	return name
}

// newEstate builds the estate. Its own fixed-seed RNG keeps it independent of Options.Seed.
func newEstate(nHosts, nUsers int, start time.Time) *estate {
	rng := rand.New(rand.NewPCG(0x7669_6769_6c00, 0x6573_7461_7465))
	e := &estate{hosts: make([]host, nHosts), users: make([]user, nUsers)}

	nDC := 2
	if nHosts < 10 {
		nDC = 1
	}
	nSrv := max(1, nHosts/8)
	for i := range e.hosts {
		h := &e.hosts[i]
		switch {
		case i < nDC:
			h.role = roleDC
			h.name = fmt.Sprintf("NW-DC%02d", i+1)
			h.ip = fmt.Sprintf("10.0.0.%d", 10+i)
			e.dcs = append(e.dcs, i)
		case i < nDC+nSrv:
			k := i - nDC
			h.role = roleServer
			if k < len(serverNames) {
				h.name = "NW-" + serverNames[k]
			} else {
				h.name = fmt.Sprintf("NW-SRV%03d", k+1)
			}
			h.ip = fmt.Sprintf("10.0.%d.%d", 10+k/200, 20+k%200)
			e.servers = append(e.servers, i)
		default:
			k := i - nDC - nSrv
			h.role = roleWorkstation
			h.name = fmt.Sprintf("NW-WS%03d", 101+k)
			h.ip = fmt.Sprintf("10.10.%d.%d", 1+k/240, 10+k%240)
			e.workstations = append(e.workstations, i)
		}
		h.fqdn = h.name + "." + domainDNS
		h.machine = h.name + "$"
		h.machineSID = fmt.Sprintf("%s-%d", domainSID, 1000+i)
		h.guidHi = rng.Uint32()
		h.guidTail = uint64(rng.IntN(0x40))<<8 | 0x02
		h.boot = start.Unix() - 3600*int64(6+rng.IntN(24*10))
		h.sysmonPID = 2000 + 4*rng.Int64N(500)
		h.sysmonTID = h.sysmonPID + 4*(1+rng.Int64N(200))
		h.lsassPID = 600 + 4*rng.Int64N(80)
		h.recSysmon = 100000 + rng.Int64N(9_000_000)
		h.recSecurity = 50000 + rng.Int64N(5_000_000)
		h.seq = uint16(rng.IntN(0x3000))
		h.activity = makeGUID(rng.Uint32(), uint16(rng.Uint32()), uint16(rng.Uint32()), uint16(rng.Uint32()), rng.Uint64()>>16)
		h.user = -1
	}
	e.fileServer, e.sqlServer = e.servers[0], e.servers[0]
	if len(e.servers) > 1 {
		e.sqlServer = e.servers[1]
	}

	for i := range e.users {
		u := &e.users[i]
		u.name = userName(i)
		u.qualified = domainNB + `\` + u.name
		u.sid = fmt.Sprintf("%s-%d", domainSID, 1104+i)
		u.ws = e.workstations[i%len(e.workstations)]
		u.admin = i%20 == 3
	}
	for k, hi := range e.workstations {
		e.hosts[hi].user = k % nUsers
	}

	for i := range e.hosts {
		e.initProcs(i, rng)
	}
	return e
}

// initProcs sets up the accounts and long-running processes of h.
func (e *estate) initProcs(hi int, rng *rand.Rand) {
	h := &e.hosts[hi]
	sysGUID := logonGUID(h.guidHi, h.boot, 0x3e7)
	h.system = account{`NT AUTHORITY\SYSTEM`, 0x3e7, sysGUID, 0, "System"}
	h.localService = account{`NT AUTHORITY\LOCAL SERVICE`, 0x3e5, logonGUID(h.guidHi, h.boot, 0x3e5), 0, "System"}
	h.networkService = account{`NT AUTHORITY\NETWORK SERVICE`, 0x3e4, logonGUID(h.guidHi, h.boot, 0x3e4), 0, "System"}

	var u *user
	if h.user >= 0 {
		u = &e.users[h.user]
		logon := h.boot + 60 + rng.Int64N(1800)
		id := uint64(0x20000 + rng.Int64N(0x600000))
		h.interactive = account{u.qualified, id, logonGUID(h.guidHi, logon, id), 1, "Medium"}
	}

	t := h.boot
	set := func(k procKind, img *image, cmd string, acct *account) {
		t += 1 + rng.Int64N(40)
		h.seq++
		p := &h.procs[k]
		p.img, p.acct = img, acct
		p.path = expandUser(img.path, u)
		p.cmd = expandUser(cmd, u)
		p.pid = 4 * (100 + rng.Int64N(3000))
		p.guid = processGUID(h.guidHi, t, h.seq, h.guidTail)
	}
	set(pSystem, imgSystem, "", &h.system)
	h.procs[pSystem].pid = 4
	set(pWinlogon, imgWinlogon, "winlogon.exe", &h.system)
	set(pServices, imgServices, `C:\Windows\system32\services.exe`, &h.system)
	set(pLsass, imgLsass, `C:\Windows\system32\lsass.exe`, &h.system)
	h.procs[pLsass].pid = h.lsassPID
	set(pSvcDcom, imgSvchost, `C:\Windows\system32\svchost.exe -k DcomLaunch -p`, &h.system)
	set(pSvcSchedule, imgSvchost, `C:\Windows\system32\svchost.exe -k netsvcs -p -s Schedule`, &h.system)
	set(pSvcNetsvcs, imgSvchost, `C:\Windows\system32\svchost.exe -k netsvcs -p`, &h.system)
	set(pSvcLocal, imgSvchost, `C:\Windows\system32\svchost.exe -k LocalServiceNetworkRestricted -p`, &h.localService)
	set(pMsMpEng, imgMsMpEng, `"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MsMpEng.exe"`, &h.system)
	if len(e.servers) > 1 && hi == e.sqlServer {
		set(pSqlservr, imgSqlservr, `"C:\Program Files\Microsoft SQL Server\MSSQL16.MSSQLSERVER\MSSQL\Binn\sqlservr.exe" -sMSSQLSERVER`, &h.networkService)
	}
	if u == nil {
		return
	}
	t = h.boot + 90 + rng.Int64N(1800)
	ia := &h.interactive
	set(pExplorer, imgExplorer, `C:\Windows\Explorer.EXE`, ia)
	set(pChrome, imgChrome, `"C:\Program Files\Google\Chrome\Application\chrome.exe" `, ia)
	set(pOutlook, imgOutlook, `"C:\Program Files\Microsoft Office\Root\Office16\OUTLOOK.EXE" `, ia)
	set(pTeams, imgTeams, `"C:\Program Files\WindowsApps\MSTeams_24335.206.3315.9072_x64__8wekyb3d8bbwe\ms-teams.exe" msteams:system-initiated`, ia)
	set(pCode, imgCode, `"C:\Users\%u\AppData\Local\Programs\Microsoft VS Code\Code.exe" `, ia)
	set(pOneDrive, imgOneDrive, `"C:\Users\%u\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background`, ia)
	set(pCmd, imgCmd, `"C:\Windows\system32\cmd.exe" `, ia)
}

// expandUser replaces %u in s by the user's name (set-up time only).
func expandUser(s string, u *user) string {
	if u == nil {
		return s
	}
	return strings.ReplaceAll(s, "%u", u.name)
}
