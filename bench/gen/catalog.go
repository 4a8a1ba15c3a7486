package gen

// The catalog of benign background activity. Strings may hold %-codes that
// are expanded per event (see Generator.expand):
//
//	%u user name   %s user SID   %h host name   %i host IP
//	%f file server %d domain controller
//	%n random decimal number   %x / %X 8 random hex digits (lower / upper)
//	%g random upper-case GUID
//	%a an attacker's address on the Internet (hits.go only)
//
// Background is deliberately full of near misses for the starter rules
// (plain whoami, ipconfig /all, net use, certutil -hashfile, reg query,
// rundll32 shell32, vssadmin list shadows, PowerShell -File scripts) but
// never the real thing.

// acctKind chooses the account a new process runs as.
type acctKind uint8

const (
	acctParent     acctKind = iota // same as the parent
	acctUser                       // the host's interactive user
	acctSystem                     // NT AUTHORITY\SYSTEM
	acctNetworkSvc                 // NT AUTHORITY\NETWORK SERVICE
	acctLocalSvc                   // NT AUTHORITY\LOCAL SERVICE
)

// procTmpl is a benign process creation (Sysmon EID 1).
type procTmpl struct {
	weight int
	roles  role
	parent procKind
	img    *image
	acct   acctKind
	cmd    string
	cwd    string // "" means C:\Windows\system32\
}

const (
	chromeCmd = `"C:\Program Files\Google\Chrome\Application\chrome.exe" `
	chromeDir = `C:\Program Files\Google\Chrome\Application\131.0.6778.140\`
	repoDir   = `C:\Users\%u\source\repos\billing-api\`
	userHome  = `C:\Users\%u\`
	gitCmd    = `"C:\Program Files\Git\cmd\git.exe" -c core.quotepath=false -c color.ui=false `
)

var procTemplates = []procTmpl{
	{24, roleWorkstation, pChrome, imgChrome, acctParent, chromeCmd + `--type=renderer --string-annotations --video-capture-use-gpu-memory-buffer --lang=en-US --device-scale-factor=1 --num-raster-threads=4 --enable-main-frame-before-activation --renderer-client-id=%n --time-ticks-at-unix-epoch=-17672%n --launch-time-ticks=%n --field-trial-handle=2016,i,%n,%n,262144 --variations-seed-version=20241211-050135.457000 --mojo-platform-channel-handle=%n /prefetch:1`, chromeDir},
	{6, roleWorkstation, pChrome, imgChrome, acctParent, chromeCmd + `--type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none --string-annotations --field-trial-handle=2016,i,%n,%n,262144 --variations-seed-version=20241211-050135.457000 --mojo-platform-channel-handle=%n /prefetch:11`, chromeDir},
	{8, roleWorkstation, pTeams, imgWebView, acctParent, `"C:\Program Files (x86)\Microsoft\EdgeWebView\Application\131.0.2903.86\msedgewebview2.exe" --type=renderer --noerrdialogs --user-data-dir="C:\Users\%u\AppData\Local\Packages\MSTeams_8wekyb3d8bbwe\LocalCache\Microsoft\MSTeams\EBWebView" --webview-exe-name=ms-teams.exe --webview-exe-version=24335.206.3315.9072 --embedded-browser-webview=1 --lang=en-US --renderer-client-id=%n --mojo-platform-channel-handle=%n /prefetch:1`, `C:\Program Files\WindowsApps\MSTeams_24335.206.3315.9072_x64__8wekyb3d8bbwe\`},
	{5, roleWorkstation, pSvcDcom, imgRuntimeBrk, acctUser, `C:\Windows\System32\RuntimeBroker.exe -Embedding`, ""},
	{3, roleWorkstation, pSvcDcom, imgBgTaskHost, acctUser, `"C:\Windows\system32\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountProvider`, ""},
	{4, roleWorkstation, pSvcDcom, imgDllhost, acctUser, `C:\Windows\system32\DllHost.exe /Processid:{%g}`, ""},
	{2, roleWorkstation, pSvcDcom, imgRundll32, acctUser, `C:\Windows\system32\rundll32.exe C:\Windows\system32\shell32.dll,SHCreateLocalServerRunDll {9aa46009-3ce0-458a-a354-715610a075e6} -Embedding`, ""},
	{4, roleWorkstation, pCmd, imgConhost, acctParent, `\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1`, ""},
	{6, roleWorkstation, pCode, imgGit, acctParent, gitCmd + `status -z -uall`, repoDir},
	{2, roleWorkstation, pCode, imgGit, acctParent, gitCmd + `fetch`, repoDir},
	{2, roleWorkstation, pCode, imgGit, acctParent, gitCmd + `rev-parse --show-toplevel`, repoDir},
	{2, roleWorkstation, pCmd, imgPowerShell, acctParent, `powershell.exe  -NoProfile -File .\build\build.ps1 -Configuration Release`, repoDir},
	{1, roleWorkstation, pExplorer, imgPowerShell, acctParent, `"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" `, userHome},
	{2, roleWorkstation, pExplorer, imgWinword, acctParent, `"C:\Program Files\Microsoft Office\Root\Office16\WINWORD.EXE" /n "C:\Users\%u\OneDrive - Northwind\Documents\Quarterly report %n.docx" /o ""`, userHome},
	{2, roleWorkstation, pOutlook, imgExcel, acctParent, `"C:\Program Files\Microsoft Office\Root\Office16\EXCEL.EXE" "C:\Users\%u\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\%X\Budget_%n.xlsx"`, userHome},
	{2, roleWorkstation, pExplorer, imgNotepad, acctParent, `"C:\Windows\system32\NOTEPAD.EXE" C:\Users\%u\Desktop\notes.txt`, userHome},
	{2, roleWorkstation, pExplorer, imgCmd, acctParent, `"C:\Windows\system32\cmd.exe" `, userHome},
	{1, roleWorkstation, pCmd, imgWhoami, acctParent, `whoami`, userHome},
	{1, roleWorkstation, pCmd, imgIpconfig, acctParent, `ipconfig  /all`, userHome},
	{1, roleWorkstation, pCmd, imgNet, acctParent, `net  use Z: \\%f\Departments /persistent:yes`, userHome},
	{1, roleWorkstation, pCmd, imgCertutil, acctParent, `certutil  -hashfile C:\Users\%u\Downloads\VSCodeUserSetup-x64-1.96.2.exe SHA256`, userHome},
	{1, roleWorkstation, pCmd, imgReg, acctParent, `reg  query "HKCU\Software\Microsoft\Office\16.0\Outlook\Profiles" /s`, userHome},
	{1, roleWorkstation, pSvcSchedule, imgOneDriveUp, acctUser, `"C:\Users\%u\AppData\Local\Microsoft\OneDrive\OneDriveStandaloneUpdater.exe" /reporting`, ""},
	{4, roleAny, pSvcSchedule, imgTaskhostw, acctSystem, `taskhostw.exe {%g}`, ""},
	{3, roleAny, pSvcDcom, imgWmiPrvSE, acctNetworkSvc, `C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding`, ""},
	{3, roleAny, pServices, imgSvchost, acctLocalSvc, `C:\Windows\system32\svchost.exe -k LocalService -p -s fdPHost`, ""},
	{1, roleAny, pServices, imgSppsvc, acctNetworkSvc, `C:\Windows\system32\sppsvc.exe`, ""},
	{1, roleAny, pSvcSchedule, imgGpupdate, acctSystem, `gpupdate.exe /target:computer`, ""},
	{1, roleAny, pMsMpEng, imgMpCmdRun, acctSystem, `"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24090.11-0\MpCmdRun.exe" SignaturesUpdateService -ScheduleJob -UnmanagedUpdate`, ""},
	{2, roleAny, pSvcSchedule, imgPowerShell, acctSystem, `"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -NonInteractive -ExecutionPolicy Bypass -File "C:\ProgramData\Northwind\Scripts\Invoke-Inventory.ps1"`, ""},
	{3, roleServer | roleDC, pSvcSchedule, imgVssadmin, acctSystem, `C:\Windows\system32\vssadmin.exe list shadows`, ""},
}

// site is an Internet destination.
type site struct{ name, ip string }

var (
	sitesWeb = []site{
		{"www.google.com", "142.250.185.100"}, {"www.bing.com", "13.107.21.200"},
		{"github.com", "140.82.121.4"}, {"stackoverflow.com", "104.18.32.7"},
		{"learn.microsoft.com", "23.55.161.52"}, {"northwind.sharepoint.com", "13.107.136.10"},
		{"update.googleapis.com", "142.250.186.163"}, {"fonts.gstatic.com", "142.250.185.195"},
	}
	sitesTeams    = []site{{"teams.microsoft.com", "52.113.194.132"}, {"login.microsoftonline.com", "20.190.160.20"}}
	sitesOutlook  = []site{{"outlook.office365.com", "52.98.151.66"}, {"login.microsoftonline.com", "20.190.160.20"}}
	sitesOneDrive = []site{{"northwind-my.sharepoint.com", "13.107.138.10"}, {"g.live.com", "13.107.42.13"}}
	sitesCode     = []site{{"marketplace.visualstudio.com", "13.107.42.18"}, {"github.com", "140.82.121.4"}}
	sitesDefender = []site{{"wdcp.microsoft.com", "20.42.65.88"}, {"go.microsoft.com", "23.55.161.135"}}
	sitesUpdate   = []site{{"fe3cr.delivery.mp.microsoft.com", "20.7.2.167"}, {"slscr.update.microsoft.com", "20.12.23.50"}}
)

// destKind is where a connection goes.
type destKind uint8

const (
	toInternet destKind = iota
	toDC
	toFileServer
	toSQL
)

// netTmpl is a benign outbound connection (Sysmon EID 3).
type netTmpl struct {
	weight   int
	roles    role
	proc     procKind
	dest     destKind
	sites    []site // toInternet only
	port     int64
	portName string
}

var netTemplates = []netTmpl{
	{22, roleWorkstation, pChrome, toInternet, sitesWeb, 443, "https"},
	{8, roleWorkstation, pTeams, toInternet, sitesTeams, 443, "https"},
	{6, roleWorkstation, pOutlook, toInternet, sitesOutlook, 443, "https"},
	{3, roleWorkstation, pOneDrive, toInternet, sitesOneDrive, 443, "https"},
	{2, roleWorkstation, pCode, toInternet, sitesCode, 443, "https"},
	{6, roleWorkstation, pSystem, toFileServer, nil, 445, "microsoft-ds"},
	{2, roleWorkstation, pChrome, toSQL, nil, 1433, "ms-sql-s"},
	{6, roleWorkstation | roleServer, pLsass, toDC, nil, 88, "kerberos"},
	{3, roleWorkstation | roleServer, pSvcNetsvcs, toDC, nil, 389, "ldap"},
	{2, roleDC, pLsass, toDC, nil, 389, "ldap"},
	{3, roleAny, pMsMpEng, toInternet, sitesDefender, 443, "https"},
	{2, roleAny, pSvcNetsvcs, toInternet, sitesUpdate, 443, "https"},
}

// fileTmpl is a benign file creation (Sysmon EID 11).
type fileTmpl struct {
	weight int
	roles  role
	proc   procKind
	path   string
}

var fileTemplates = []fileTmpl{
	{10, roleWorkstation, pChrome, `C:\Users\%u\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_%x`},
	{1, roleWorkstation, pChrome, `C:\Users\%u\Downloads\Unconfirmed %n.crdownload`},
	{3, roleWorkstation, pOutlook, `C:\Users\%u\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\%X\Invoice_%n.pdf`},
	{3, roleWorkstation, pTeams, `C:\Users\%u\AppData\Local\Packages\MSTeams_8wekyb3d8bbwe\LocalCache\Microsoft\MSTeams\Logs\MSTeams_%n.log`},
	{2, roleWorkstation, pCode, `C:\Users\%u\AppData\Roaming\Code\User\workspaceStorage\%x\state.vscdb-journal`},
	{2, roleWorkstation, pOneDrive, `C:\Users\%u\AppData\Local\Microsoft\OneDrive\logs\Business1\SyncEngine-%n.odl`},
	{3, roleAny, pSvcNetsvcs, `C:\Windows\Prefetch\TASKHOSTW.EXE-%X.pf`},
	{3, roleAny, pMsMpEng, `C:\ProgramData\Microsoft\Windows Defender\Scans\History\CacheManager\%X-0.bin`},
	{2, roleAny, pSvcSchedule, `C:\Windows\Temp\%g.tmp`},
}

// regTmpl is a benign registry value write (Sysmon EID 13).
type regTmpl struct {
	weight  int
	roles   role
	proc    procKind
	key     string
	details string
}

var regTemplates = []regTmpl{
	{5, roleWorkstation, pSystem, `HKLM\System\CurrentControlSet\Services\bam\State\UserSettings\%s\\Device\HarddiskVolume3\Program Files\Google\Chrome\Application\chrome.exe`, "Binary Data"},
	{3, roleWorkstation, pExplorer, `HKU\%s\SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\UserAssist\{CEBFF5CD-ACE2-4F4F-9178-9926F41749EA}\Count\{6Q809377-6NS0-444O-8957-N3773S02200R}\Tbbtyr\Puebzr\Nccyvpngvba\puebzr.rkr`, "Binary Data"},
	{2, roleWorkstation, pExplorer, `HKU\%s\SOFTWARE\Microsoft\Windows\CurrentVersion\Explorer\RecentDocs\.docx\MRUListEx`, "Binary Data"},
	{2, roleWorkstation, pOneDrive, `HKU\%s\SOFTWARE\Microsoft\OneDrive\Accounts\Business1\LastSignInTime`, "DWORD (0x%x)"},
	{1, roleWorkstation, pTeams, `HKU\%s\SOFTWARE\Microsoft\Office\Teams\HomeUserUpn`, "%u@northwind.local"},
	{2, roleAny, pMsMpEng, `HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\SignaturesLastUpdated`, "Binary Data"},
	{3, roleAny, pSvcSchedule, `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Schedule\TaskCache\Tasks\{%g}\DynamicInfo`, "Binary Data"},
	{1, roleAny, pSvcLocal, `HKLM\System\CurrentControlSet\Services\W32Time\SecureTimeLimits\SecureTimeEstimated`, "QWORD (0x01dc5b3a-0x%x)"},
	{1, roleAny, pSvcNetsvcs, `HKLM\System\CurrentControlSet\Services\Tcpip\Parameters\Interfaces\{%g}\DhcpIPAddress`, "%i"},
}
