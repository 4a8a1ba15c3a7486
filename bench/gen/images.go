package gen

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
)

// image is an executable with the PE metadata Sysmon reports for it.
type image struct {
	path, desc, product, company, orig, version string
	hashes                                      string // Sysmon Hashes value, filled in by init
}

const (
	ms      = "Microsoft Corporation"
	msOS    = "Microsoft® Windows® Operating System"
	winVer  = "10.0.22621.4391 (WinBuild.160101.0800)"
	chromeV = "131.0.6778.140"
)

// The executables the generator knows. Paths use the casing Windows reports.
var (
	imgSystem     = &image{path: "System", desc: "-", product: "-", company: "-", orig: "-", version: "-"}
	imgSmss       = &image{`C:\Windows\System32\smss.exe`, "Windows Session Manager", msOS, ms, "smss.exe", winVer, ""}
	imgWinlogon   = &image{`C:\Windows\System32\winlogon.exe`, "Windows Logon Application", msOS, ms, "WINLOGON.EXE", winVer, ""}
	imgServices   = &image{`C:\Windows\System32\services.exe`, "Services and Controller app", msOS, ms, "services.exe", winVer, ""}
	imgLsass      = &image{`C:\Windows\System32\lsass.exe`, "Local Security Authority Process", msOS, ms, "lsass.exe", winVer, ""}
	imgSvchost    = &image{`C:\Windows\System32\svchost.exe`, "Host Process for Windows Services", msOS, ms, "svchost.exe", winVer, ""}
	imgMsMpEng    = &image{`C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MsMpEng.exe`, "Antimalware Service Executable", "Microsoft® Windows® Operating System", ms, "MsMpEng.exe", "4.18.24090.11 (WinBuild.160101.0800)", ""}
	imgMpCmdRun   = &image{`C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MpCmdRun.exe`, "Microsoft Malware Protection Command Line Utility", "Microsoft® Windows® Operating System", ms, "MpCmdRun.exe", "4.18.24090.11 (WinBuild.160101.0800)", ""}
	imgUserinit   = &image{`C:\Windows\System32\userinit.exe`, "Userinit Logon Application", msOS, ms, "USERINIT.EXE", winVer, ""}
	imgExplorer   = &image{`C:\Windows\explorer.exe`, "Windows Explorer", msOS, ms, "EXPLORER.EXE", winVer, ""}
	imgChrome     = &image{`C:\Program Files\Google\Chrome\Application\chrome.exe`, "Google Chrome", "Google Chrome", "Google LLC", "chrome.exe", chromeV, ""}
	imgOutlook    = &image{`C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`, "Microsoft Outlook", "Microsoft Outlook", ms, "Outlook.exe", "16.0.18129.20158", ""}
	imgWinword    = &image{`C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE`, "Microsoft Word", "Microsoft Office", ms, "WinWord.exe", "16.0.18129.20158", ""}
	imgExcel      = &image{`C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE`, "Microsoft Excel", "Microsoft Office", ms, "Excel.exe", "16.0.18129.20158", ""}
	imgTeams      = &image{`C:\Program Files\WindowsApps\MSTeams_24335.206.3315.9072_x64__8wekyb3d8bbwe\ms-teams.exe`, "Microsoft Teams", "Microsoft Teams", ms, "ms-teams.exe", "24335.206.3315.9072", ""}
	imgWebView    = &image{`C:\Program Files (x86)\Microsoft\EdgeWebView\Application\131.0.2903.86\msedgewebview2.exe`, "Microsoft Edge WebView2", "Microsoft Edge WebView2", ms, "msedgewebview2.exe", "131.0.2903.86", ""}
	imgCode       = &image{`C:\Users\%u\AppData\Local\Programs\Microsoft VS Code\Code.exe`, "Visual Studio Code", "Visual Studio Code", ms, "electron.exe", "1.96.2", ""}
	imgOneDrive   = &image{`C:\Users\%u\AppData\Local\Microsoft\OneDrive\OneDrive.exe`, "Microsoft OneDrive", "Microsoft OneDrive", ms, "OneDrive.exe", "24.226.1110.0004", ""}
	imgOneDriveUp = &image{`C:\Users\%u\AppData\Local\Microsoft\OneDrive\OneDriveStandaloneUpdater.exe`, "Standalone Updater", "Microsoft OneDrive", ms, "OneDriveStandaloneUpdater.exe", "24.226.1110.0004", ""}
	imgGit        = &image{`C:\Program Files\Git\cmd\git.exe`, "Git for Windows", "Git", "The Git Development Community", "git.exe", "2.47.1.windows.1", ""}
	imgTaskhostw  = &image{`C:\Windows\System32\taskhostw.exe`, "Host Process for Windows Tasks", msOS, ms, "taskhostw.exe", winVer, ""}
	imgRuntimeBrk = &image{`C:\Windows\System32\RuntimeBroker.exe`, "Runtime Broker", msOS, ms, "RuntimeBroker.exe", winVer, ""}
	imgBgTaskHost = &image{`C:\Windows\System32\backgroundTaskHost.exe`, "Background Task Host", msOS, ms, "backgroundTaskHost.exe", winVer, ""}
	imgDllhost    = &image{`C:\Windows\System32\dllhost.exe`, "COM Surrogate", msOS, ms, "dllhost.exe", winVer, ""}
	imgConhost    = &image{`C:\Windows\System32\conhost.exe`, "Console Window Host", msOS, ms, "CONHOST.EXE", winVer, ""}
	imgCmd        = &image{`C:\Windows\System32\cmd.exe`, "Windows Command Processor", msOS, ms, "Cmd.Exe", winVer, ""}
	imgPowerShell = &image{`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`, "Windows PowerShell", msOS, ms, "PowerShell.EXE", "10.0.22621.3085 (WinBuild.160101.0800)", ""}
	imgNotepad    = &image{`C:\Windows\System32\notepad.exe`, "Notepad", msOS, ms, "NOTEPAD.EXE", winVer, ""}
	imgWmiPrvSE   = &image{`C:\Windows\System32\wbem\WmiPrvSE.exe`, "WMI Provider Host", msOS, ms, "Wmiprvse.exe", winVer, ""}
	imgGpupdate   = &image{`C:\Windows\System32\gpupdate.exe`, "Microsoft® Windows® GPUpdate", msOS, ms, "gpupdate.exe", winVer, ""}
	imgSppsvc     = &image{`C:\Windows\System32\sppsvc.exe`, "Microsoft Software Protection Platform Service", msOS, ms, "sppsvc.exe", winVer, ""}
	imgSqlservr   = &image{`C:\Program Files\Microsoft SQL Server\MSSQL16.MSSQLSERVER\MSSQL\Binn\sqlservr.exe`, "SQL Server Windows NT - 64 Bit", "Microsoft SQL Server", ms, "sqlservr.exe", "2022.0160.4155.04 ((SQL22_RTM_QFE-CU).240909-1930)", ""}
	imgWhoami     = &image{`C:\Windows\System32\whoami.exe`, "whoami - displays logged on user information", msOS, ms, "whoami.exe", winVer, ""}
	imgNet        = &image{`C:\Windows\System32\net.exe`, "Net Command", msOS, ms, "net.exe", winVer, ""}
	imgNet1       = &image{`C:\Windows\System32\net1.exe`, "Net Command", msOS, ms, "net1.exe", winVer, ""}
	imgCertutil   = &image{`C:\Windows\System32\certutil.exe`, "CertUtil.exe", msOS, ms, "CertUtil.exe", winVer, ""}
	imgReg        = &image{`C:\Windows\System32\reg.exe`, "Registry Console Tool", msOS, ms, "reg.exe", winVer, ""}
	imgRundll32   = &image{`C:\Windows\System32\rundll32.exe`, "Windows host process (Rundll32)", msOS, ms, "RUNDLL32.EXE", winVer, ""}
	imgVssadmin   = &image{`C:\Windows\System32\vssadmin.exe`, "Command Line Interface for Microsoft® Volume Shadow Copy Service ", msOS, ms, "VSSADMIN.EXE", winVer, ""}
	imgIpconfig   = &image{`C:\Windows\System32\ipconfig.exe`, "IP Configuration Utility", msOS, ms, "ipconfig.exe", winVer, ""}

	// Executables of the suspicious catalogue (hits.go).
	imgMshta     = &image{`C:\Windows\System32\mshta.exe`, "Microsoft (R) HTML Application host", "Internet Explorer", ms, "MSHTA.EXE", "11.00.22621.1 (WinBuild.160101.0800)", ""}
	imgRegsvr32  = &image{`C:\Windows\System32\regsvr32.exe`, "Microsoft(C) Register Server", msOS, ms, "REGSVR32.EXE", winVer, ""}
	imgBitsadmin = &image{`C:\Windows\System32\bitsadmin.exe`, "BITS administration utility", msOS, ms, "bitsadmin.exe", winVer, ""}
	imgWmic      = &image{`C:\Windows\System32\wbem\WMIC.exe`, "WMI Commandline Utility", msOS, ms, "wmic.exe", winVer, ""}
	imgSchtasks  = &image{`C:\Windows\System32\schtasks.exe`, "Task Scheduler Configuration Tool", msOS, ms, "schtasks.exe", winVer, ""}
	imgNltest    = &image{`C:\Windows\System32\nltest.exe`, "Microsoft® Logon Server Test Utility", msOS, ms, "nltestrk.exe", winVer, ""}
	imgWevtutil  = &image{`C:\Windows\System32\wevtutil.exe`, "Eventing Command Line Utility", msOS, ms, "wevtutil.exe", winVer, ""}
	imgBcdedit   = &image{`C:\Windows\System32\bcdedit.exe`, "Boot Configuration Data Editor", msOS, ms, "bcdedit.exe", winVer, ""}
	imgWbadmin   = &image{`C:\Windows\System32\wbadmin.exe`, "Command Line Interface for Microsoft® BLB Backup", msOS, ms, "WBADMIN.EXE", winVer, ""}
	imgNetsh     = &image{`C:\Windows\System32\netsh.exe`, "Network Command Shell", msOS, ms, "netsh.exe", winVer, ""}
	imgWscript   = &image{`C:\Windows\System32\wscript.exe`, "Microsoft ® Windows Based Script Host", "Microsoft ® Windows Script Host", ms, "wscript.exe", "5.812.10240.16384", ""}
	imgCurl      = &image{`C:\Windows\System32\curl.exe`, "The curl executable", "The curl executable", "curl, https://curl.se/", "curl.exe", "8.9.1", ""}
	imgSc        = &image{`C:\Windows\System32\sc.exe`, "Service Control Manager Configuration Tool", msOS, ms, "sc.exe", winVer, ""}
	imgProcdump  = &image{`C:\Users\Public\procdump64.exe`, "Sysinternals process dump utility", "ProcDump", "Sysinternals - www.sysinternals.com", "procdump", "11.0", ""}
	imgMimikatz  = &image{`C:\Users\Public\m.exe`, "mimikatz for Windows", "mimikatz", "gentilkiwi (Benjamin DELPY)", "mimikatz.exe", "2.2.0.0", ""}
	imgAdFind    = &image{`C:\Users\Public\AdFind.exe`, "Joeware ADFind", "AdFind", "Joeware", "AdFind.exe", "1.57.0.0", ""}
)

var allImages = []*image{
	imgSystem, imgSmss, imgWinlogon, imgServices, imgLsass, imgSvchost, imgMsMpEng, imgMpCmdRun,
	imgUserinit, imgExplorer, imgChrome, imgOutlook, imgWinword, imgExcel, imgTeams, imgWebView,
	imgCode, imgOneDrive, imgOneDriveUp, imgGit, imgTaskhostw, imgRuntimeBrk, imgBgTaskHost,
	imgDllhost, imgConhost, imgCmd, imgPowerShell, imgNotepad, imgWmiPrvSE, imgGpupdate, imgSppsvc,
	imgSqlservr, imgWhoami, imgNet, imgNet1, imgCertutil, imgReg, imgRundll32, imgVssadmin, imgIpconfig,
	imgMshta, imgRegsvr32, imgBitsadmin, imgWmic, imgSchtasks, imgNltest, imgWevtutil, imgBcdedit,
	imgWbadmin, imgNetsh, imgWscript, imgCurl, imgSc, imgProcdump, imgMimikatz, imgAdFind,
}

// init gives every image stable, well-formed hashes (derived from its path,
// so the same binary has the same hashes on every host and in every run).
func init() {
	for _, im := range allImages {
		if im == imgSystem {
			im.hashes = "-"
			continue
		}
		p := []byte("vigil-gen:" + im.path)
		imp := md5.Sum(append([]byte("imphash:"), p...))
		im.hashes = fmt.Sprintf("SHA1=%X,MD5=%X,SHA256=%X,IMPHASH=%X", sha1.Sum(p), md5.Sum(p), sha256.Sum256(p), imp)
	}
}
