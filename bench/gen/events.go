package gen

import "time"

// Writers for each event type. Members are written in the order of the
// flattened evtx events (alphabetical), with the System fields Windows sets.

const (
	chanSysmon   = "Microsoft-Windows-Sysmon/Operational"
	chanSecurity = "Security"

	sysmonProvider   = "Microsoft-Windows-Sysmon"
	sysmonProviderID = "5770385F-C22A-43E0-BF4C-06F5698FFBD9"
	secProvider      = "Microsoft-Windows-Security-Auditing"
	secProviderID    = "54849625-5478-4994-A5BA-3E3B0328C30D"

	kwSysmon       = "0x8000000000000000"
	kwAuditSuccess = "0x8020000000000000"
	kwAuditFailure = "0x8010000000000000"

	nullSID  = "S-1-0-0"
	nullGUID = "00000000-0000-0000-0000-000000000000"
)

// ---- Sysmon -----------------------------------------------------------------

// procEvent is a Sysmon EID 1 process creation.
type procEvent struct {
	img            *image
	path, cmd, cwd []byte
	pid            int64
	guid           guid
	acct           *account
	parent         *proc
	utc            time.Time
}

func (g *Generator) appendProcCreate(dst []byte, h *host, t time.Time, e *procEvent) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "Channel", chanSysmon)
	dst = appendStr(dst, "CommandLine", e.cmd)
	dst = appendStr(dst, "Company", e.img.company)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendStr(dst, "CurrentDirectory", e.cwd)
	dst = appendStr(dst, "Description", e.img.desc)
	dst = appendNum(dst, "EventID", 1)
	dst = g.sysmonExec(dst, h)
	dst = appendStr(dst, "FileVersion", e.img.version)
	dst = appendStr(dst, "Hashes", e.img.hashes)
	dst = appendStr(dst, "Image", e.path)
	dst = appendStr(dst, "IntegrityLevel", e.acct.integrity)
	dst = appendStr(dst, "Keywords", kwSysmon)
	dst = appendStr(dst, "Level", "4")
	dst = appendGUID(dst, "LogonGuid", &e.acct.logonGUID)
	dst = appendHex(dst, "LogonId", e.acct.logonID)
	dst = appendStr(dst, "Opcode", "0")
	dst = appendStr(dst, "OriginalFileName", e.img.orig)
	dst = appendStr(dst, "ParentCommandLine", e.parent.cmd)
	dst = appendStr(dst, "ParentImage", e.parent.path)
	dst = appendGUID(dst, "ParentProcessGuid", &e.parent.guid)
	dst = appendDec(dst, "ParentProcessId", e.parent.pid)
	dst = appendStr(dst, "ParentUser", e.parent.acct.name)
	dst = appendGUID(dst, "ProcessGuid", &e.guid)
	dst = appendDec(dst, "ProcessId", e.pid)
	dst = appendStr(dst, "Product", e.img.product)
	dst = sysmonTail(dst, "1")
	dst = appendDec(dst, "TerminalSessionId", e.acct.session)
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "User", e.acct.name)
	dst = appendUTC(dst, "UtcTime", e.utc)
	dst = appendStr(dst, "Version", "5")
	return append(dst, '}')
}

// netEvent is a Sysmon EID 3 network connection.
type netEvent struct {
	p              *proc
	srcIP, srcHost string
	srcPort        int64
	dstIP, dstHost string
	dstPort        int64
	dstPortName    string
	utc            time.Time
}

func (g *Generator) appendNetConn(dst []byte, h *host, t time.Time, e *netEvent) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "Channel", chanSysmon)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendStr(dst, "DestinationHostname", e.dstHost)
	dst = appendStr(dst, "DestinationIp", e.dstIP)
	dst = appendStr(dst, "DestinationIsIpv6", "false")
	dst = appendDec(dst, "DestinationPort", e.dstPort)
	dst = appendStr(dst, "DestinationPortName", e.dstPortName)
	dst = appendNum(dst, "EventID", 3)
	dst = g.sysmonExec(dst, h)
	dst = appendStr(dst, "Image", e.p.path)
	dst = appendStr(dst, "Initiated", "true")
	dst = appendStr(dst, "Keywords", kwSysmon)
	dst = appendStr(dst, "Level", "4")
	dst = appendStr(dst, "Opcode", "0")
	dst = appendGUID(dst, "ProcessGuid", &e.p.guid)
	dst = appendDec(dst, "ProcessId", e.p.pid)
	dst = appendStr(dst, "Protocol", "tcp")
	dst = appendStr(dst, "Provider_Guid", sysmonProviderID)
	dst = appendStr(dst, "Provider_Name", sysmonProvider)
	dst = appendStr(dst, "RuleName", "-")
	dst = appendStr(dst, "Security_UserID", "S-1-5-18")
	dst = appendStr(dst, "SourceHostname", e.srcHost)
	dst = appendStr(dst, "SourceIp", e.srcIP)
	dst = appendStr(dst, "SourceIsIpv6", "false")
	dst = appendDec(dst, "SourcePort", e.srcPort)
	dst = appendStr(dst, "SourcePortName", "-")
	dst = appendStr(dst, "Task", "3")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "User", e.p.acct.name)
	dst = appendUTC(dst, "UtcTime", e.utc)
	dst = appendStr(dst, "Version", "5")
	return append(dst, '}')
}

// appendFileCreate writes a Sysmon EID 11 file creation by p.
func (g *Generator) appendFileCreate(dst []byte, h *host, t time.Time, p *proc, target []byte, utc time.Time) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "Channel", chanSysmon)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendUTC(dst, "CreationUtcTime", utc)
	dst = appendNum(dst, "EventID", 11)
	dst = g.sysmonExec(dst, h)
	dst = appendStr(dst, "Image", p.path)
	dst = appendStr(dst, "Keywords", kwSysmon)
	dst = appendStr(dst, "Level", "4")
	dst = appendStr(dst, "Opcode", "0")
	dst = appendGUID(dst, "ProcessGuid", &p.guid)
	dst = appendDec(dst, "ProcessId", p.pid)
	dst = appendStr(dst, "Provider_Guid", sysmonProviderID)
	dst = appendStr(dst, "Provider_Name", sysmonProvider)
	dst = appendStr(dst, "RuleName", "-")
	dst = appendStr(dst, "Security_UserID", "S-1-5-18")
	dst = appendStr(dst, "TargetFilename", target)
	dst = appendStr(dst, "Task", "11")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "User", p.acct.name)
	dst = appendUTC(dst, "UtcTime", utc)
	dst = appendStr(dst, "Version", "2")
	return append(dst, '}')
}

// appendRegSet writes a Sysmon EID 13 registry value set by p.
func (g *Generator) appendRegSet(dst []byte, h *host, t time.Time, p *proc, key, details []byte, utc time.Time) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "Channel", chanSysmon)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendStr(dst, "Details", details)
	dst = appendNum(dst, "EventID", 13)
	h.recSysmon++
	dst = appendNum(dst, "EventRecordID", h.recSysmon)
	dst = appendStr(dst, "EventType", "SetValue")
	dst = appendDec(dst, "Execution_ProcessID", h.sysmonPID)
	dst = appendDec(dst, "Execution_ThreadID", h.sysmonTID)
	dst = appendStr(dst, "Image", p.path)
	dst = appendStr(dst, "Keywords", kwSysmon)
	dst = appendStr(dst, "Level", "4")
	dst = appendStr(dst, "Opcode", "0")
	dst = appendGUID(dst, "ProcessGuid", &p.guid)
	dst = appendDec(dst, "ProcessId", p.pid)
	dst = appendStr(dst, "Provider_Guid", sysmonProviderID)
	dst = appendStr(dst, "Provider_Name", sysmonProvider)
	dst = appendStr(dst, "RuleName", "-")
	dst = appendStr(dst, "Security_UserID", "S-1-5-18")
	dst = appendStr(dst, "TargetObject", key)
	dst = appendStr(dst, "Task", "13")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "User", p.acct.name)
	dst = appendUTC(dst, "UtcTime", utc)
	dst = appendStr(dst, "Version", "2")
	return append(dst, '}')
}

// sysmonExec writes EventRecordID and the Execution_* members of a Sysmon event.
func (g *Generator) sysmonExec(dst []byte, h *host) []byte {
	h.recSysmon++
	dst = appendNum(dst, "EventRecordID", h.recSysmon)
	dst = appendDec(dst, "Execution_ProcessID", h.sysmonPID)
	return appendDec(dst, "Execution_ThreadID", h.sysmonTID)
}

// sysmonTail writes the Provider_*, RuleName, Security_UserID and Task members
// of an EID 1 event.
func sysmonTail(dst []byte, task string) []byte {
	dst = appendStr(dst, "Provider_Guid", sysmonProviderID)
	dst = appendStr(dst, "Provider_Name", sysmonProvider)
	dst = appendStr(dst, "RuleName", "-")
	dst = appendStr(dst, "Security_UserID", "S-1-5-18")
	return appendStr(dst, "Task", task)
}

// ---- Security ---------------------------------------------------------------

// logonEvent is a Security 4624 (successful) or 4625 (failed) logon.
type logonEvent struct {
	logonType                        int64
	user, domain, sid                string // Target*
	logonID                          uint64
	logonGUID                        *guid // nil: all zeros
	subjSID, subjUser, subjDomain    string
	subjLogonID                      uint64
	procID                           uint64
	procName                         string
	logonProcess, authPackage, lmPkg string
	keyLength                        int64
	workstation, ip                  string
	port                             int64
	elevated                         bool
	restrictedAdmin                  string
	status, subStatus                string // 4625 only
}

// subjectMachine sets the subject to the host's machine account (local logons).
func (e *logonEvent) subjectMachine(h *host) {
	e.subjSID, e.subjUser, e.subjDomain, e.subjLogonID = "S-1-5-18", h.machine, domainNB, 0x3e7
}

// subjectNull sets the null subject of network logons.
func (e *logonEvent) subjectNull() {
	e.subjSID, e.subjUser, e.subjDomain, e.subjLogonID = nullSID, "-", "-", 0
}

func (g *Generator) appendLogon(dst []byte, h *host, t time.Time, e *logonEvent) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "AuthenticationPackageName", e.authPackage)
	dst = appendStr(dst, "Channel", chanSecurity)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendGUID(dst, "Correlation_ActivityID", &h.activity)
	if e.elevated {
		dst = appendStr(dst, "ElevatedToken", "%%1842")
	} else {
		dst = appendStr(dst, "ElevatedToken", "%%1843")
	}
	dst = appendNum(dst, "EventID", 4624)
	dst = g.securityExec(dst, h)
	dst = appendStr(dst, "ImpersonationLevel", "%%1833")
	dst = appendStr(dst, "IpAddress", e.ip)
	dst = appendDec(dst, "IpPort", e.port)
	dst = appendDec(dst, "KeyLength", e.keyLength)
	dst = appendStr(dst, "Keywords", kwAuditSuccess)
	dst = appendStr(dst, "Level", "0")
	dst = appendStr(dst, "LmPackageName", e.lmPkg)
	if e.logonGUID != nil {
		dst = appendGUID(dst, "LogonGuid", e.logonGUID)
	} else {
		dst = appendStr(dst, "LogonGuid", nullGUID)
	}
	dst = appendStr(dst, "LogonProcessName", e.logonProcess)
	dst = appendDec(dst, "LogonType", e.logonType)
	dst = appendStr(dst, "Opcode", "0")
	dst = appendHex(dst, "ProcessId", e.procID)
	dst = appendStr(dst, "ProcessName", e.procName)
	dst = appendStr(dst, "Provider_Guid", secProviderID)
	dst = appendStr(dst, "Provider_Name", secProvider)
	dst = appendStr(dst, "RestrictedAdminMode", e.restrictedAdmin)
	dst = appendStr(dst, "SubjectDomainName", e.subjDomain)
	dst = appendHex(dst, "SubjectLogonId", e.subjLogonID)
	dst = appendStr(dst, "SubjectUserName", e.subjUser)
	dst = appendStr(dst, "SubjectUserSid", e.subjSID)
	dst = appendStr(dst, "TargetDomainName", e.domain)
	dst = appendStr(dst, "TargetLinkedLogonId", "0x0")
	dst = appendHex(dst, "TargetLogonId", e.logonID)
	dst = appendStr(dst, "TargetOutboundDomainName", "-")
	dst = appendStr(dst, "TargetOutboundUserName", "-")
	dst = appendStr(dst, "TargetUserName", e.user)
	dst = appendStr(dst, "TargetUserSid", e.sid)
	dst = appendStr(dst, "Task", "12544")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "TransmittedServices", "-")
	dst = appendStr(dst, "Version", "2")
	dst = appendStr(dst, "VirtualAccount", "%%1843")
	dst = appendStr(dst, "WorkstationName", e.workstation)
	return append(dst, '}')
}

func (g *Generator) appendLogonFailure(dst []byte, h *host, t time.Time, e *logonEvent) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "AuthenticationPackageName", e.authPackage)
	dst = appendStr(dst, "Channel", chanSecurity)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendGUID(dst, "Correlation_ActivityID", &h.activity)
	dst = appendNum(dst, "EventID", 4625)
	dst = g.securityExec(dst, h)
	dst = appendStr(dst, "FailureReason", "%%2313")
	dst = appendStr(dst, "IpAddress", e.ip)
	dst = appendDec(dst, "IpPort", e.port)
	dst = appendDec(dst, "KeyLength", e.keyLength)
	dst = appendStr(dst, "Keywords", kwAuditFailure)
	dst = appendStr(dst, "Level", "0")
	dst = appendStr(dst, "LmPackageName", e.lmPkg)
	dst = appendStr(dst, "LogonProcessName", e.logonProcess)
	dst = appendDec(dst, "LogonType", e.logonType)
	dst = appendStr(dst, "Opcode", "0")
	dst = appendHex(dst, "ProcessId", e.procID)
	dst = appendStr(dst, "ProcessName", e.procName)
	dst = appendStr(dst, "Provider_Guid", secProviderID)
	dst = appendStr(dst, "Provider_Name", secProvider)
	dst = appendStr(dst, "Status", e.status)
	dst = appendStr(dst, "SubStatus", e.subStatus)
	dst = appendStr(dst, "SubjectDomainName", e.subjDomain)
	dst = appendHex(dst, "SubjectLogonId", e.subjLogonID)
	dst = appendStr(dst, "SubjectUserName", e.subjUser)
	dst = appendStr(dst, "SubjectUserSid", e.subjSID)
	dst = appendStr(dst, "TargetDomainName", e.domain)
	dst = appendStr(dst, "TargetUserName", e.user)
	dst = appendStr(dst, "TargetUserSid", nullSID)
	dst = appendStr(dst, "Task", "12544")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "TransmittedServices", "-")
	dst = appendStr(dst, "Version", "0")
	dst = appendStr(dst, "WorkstationName", e.workstation)
	return append(dst, '}')
}

// appendLogoff writes a Security 4634.
func (g *Generator) appendLogoff(dst []byte, h *host, t time.Time, user, domain, sid string, logonID uint64, logonType int64) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "Channel", chanSecurity)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendNum(dst, "EventID", 4634)
	dst = g.securityExec(dst, h)
	dst = appendStr(dst, "Keywords", kwAuditSuccess)
	dst = appendStr(dst, "Level", "0")
	dst = appendDec(dst, "LogonType", logonType)
	dst = appendStr(dst, "Opcode", "0")
	dst = appendStr(dst, "Provider_Guid", secProviderID)
	dst = appendStr(dst, "Provider_Name", secProvider)
	dst = appendStr(dst, "TargetDomainName", domain)
	dst = appendHex(dst, "TargetLogonId", logonID)
	dst = appendStr(dst, "TargetUserName", user)
	dst = appendStr(dst, "TargetUserSid", sid)
	dst = appendStr(dst, "Task", "12545")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "Version", "0")
	return append(dst, '}')
}

// Privilege lists of 4672, as evtx renders them.
const (
	privSystem = "SeAssignPrimaryTokenPrivilege\n\t\t\tSeTcbPrivilege\n\t\t\tSeSecurityPrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeAuditPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeImpersonatePrivilege\n\t\t\tSeDelegateSessionUserImpersonatePrivilege"
	privAdmin  = "SeSecurityPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeImpersonatePrivilege\n\t\t\tSeDelegateSessionUserImpersonatePrivilege"
)

// appendSpecialPrivileges writes a Security 4672.
func (g *Generator) appendSpecialPrivileges(dst []byte, h *host, t time.Time, user, domain, sid string, logonID uint64, privileges string) []byte {
	dst = append(dst, '{')
	dst = appendStr(dst, "Channel", chanSecurity)
	dst = appendStr(dst, "Computer", h.fqdn)
	dst = appendGUID(dst, "Correlation_ActivityID", &h.activity)
	dst = appendNum(dst, "EventID", 4672)
	dst = g.securityExec(dst, h)
	dst = appendStr(dst, "Keywords", kwAuditSuccess)
	dst = appendStr(dst, "Level", "0")
	dst = appendStr(dst, "Opcode", "0")
	dst = appendStr(dst, "PrivilegeList", privileges)
	dst = appendStr(dst, "Provider_Guid", secProviderID)
	dst = appendStr(dst, "Provider_Name", secProvider)
	dst = appendStr(dst, "SubjectDomainName", domain)
	dst = appendHex(dst, "SubjectLogonId", logonID)
	dst = appendStr(dst, "SubjectUserName", user)
	dst = appendStr(dst, "SubjectUserSid", sid)
	dst = appendStr(dst, "Task", "12548")
	dst = appendTime(dst, "TimeCreated_SystemTime", t)
	dst = appendStr(dst, "Version", "0")
	return append(dst, '}')
}

// securityExec writes EventRecordID and the Execution_* members of a Security
// event (written by lsass).
func (g *Generator) securityExec(dst []byte, h *host) []byte {
	h.recSecurity++
	dst = appendNum(dst, "EventRecordID", h.recSecurity)
	dst = appendDec(dst, "Execution_ProcessID", h.lsassPID)
	return appendDec(dst, "Execution_ThreadID", h.lsassPID+4*(1+g.rng.Int64N(400)))
}
