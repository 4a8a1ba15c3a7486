package gen

import (
	"bytes"
	"strconv"
	"time"
)

// Web proxy logs: one JSON object per request, with the W3C extended log
// field names SigmaHQ's proxy rules use (category proxy, no product):
//
//	@timestamp      request time, RFC 3339 UTC, milliseconds
//	c-ip            client address (the user's workstation)
//	cs-username     authenticated user, NORTHWIND\name
//	cs-method       GET, POST, PUT, CONNECT...
//	cs-host         host the client asked for
//	c-uri           the full URL: scheme://host/path?query (the proxy inspects TLS)
//	c-uri-stem      path without the query
//	c-uri-query     query without the '?' ("" when none)
//	c-uri-extension extension of the path's last segment, lower case, without the dot ("" when none)
//	c-useragent     User-Agent header ("" when the client sent none)
//	cs-referrer     Referer header ("" when none)
//	cs-bytes        request bytes (number)
//	sc-status       response status (number)
//	sc-bytes        response bytes (number)
//	r-dns, r-ip     the server's name and address as the proxy resolved them
//	s-action        proxy decision (TCP_MISS, TCP_HIT, TCP_TUNNEL...)
//	time-taken      milliseconds (number)
//
// Routing tables for Windows events recognise none of these, so rules
// without a mapped logsource (proxy, webserver and other products' rules)
// run on them.

// proxyTmpl is a web request. url holds %-codes (catalog.go); the host is the
// part between "://" and the next '/'.
type proxyTmpl struct {
	weight   int
	method   string
	url      string
	ip       string // r-ip; "" means the host is an address
	ua       string
	referrer string
	status   int64
	action   string
}

// User agents of the estate's clients.
const (
	uaChrome  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaTeams   = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0 Teams/24335.206.3315.9072"
	uaOutlook = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.18129; Pro)"
	uaCode    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Code/1.96.2 Chrome/128.0.6613.186 Electron/32.2.6 Safari/537.36"
	uaGit     = "git/2.47.1.windows.1"
	uaCAPI    = "Microsoft-CryptoAPI/10.0"
	uaDO      = "Microsoft-Delivery-Optimization/10.0"
	uaOneDrv  = "Microsoft SkyDriveSync 24.226.1110.0004 ship; Windows NT 10.0 (22631)"
	// Suspicious clients (hits).
	uaPowerShell = "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.22621.4391"
	uaBITS       = "Microsoft BITS/7.8"
	uaWebDAV     = "Microsoft-WebDAV-MiniRedir/10.0.22631"
	uaRclone     = "rclone/v1.68.2"
	uaXMRig      = "XMRig 6.22.2 (Windows NT 10.0; Win64; x64) libuv/1.48.0 msvc/2019"
	uaMasscan    = "masscan/1.3 (https://github.com/robertdavidgraham/masscan)"
	uaMetasploit = "Mozilla/4.0 (compatible; MSIE 6.1; Windows NT)"
	uaPython     = "python-requests/2.32.3"
)

var proxyTemplates = []proxyTmpl{
	{14, "GET", "https://www.google.com/search?q=quarterly+report+template+%n&sourceid=chrome&ie=UTF-8", "142.250.185.100", uaChrome, "https://www.google.com/", 200, "TCP_MISS"},
	{5, "GET", "https://www.bing.com/search?q=excel+pivot+table+%n&form=QBLH", "13.107.21.200", uaChrome, "https://www.bing.com/", 200, "TCP_MISS"},
	{6, "GET", "https://github.com/northwind/billing-api/pull/%n/files", "140.82.121.4", uaChrome, "https://github.com/northwind/billing-api/pulls", 200, "TCP_MISS"},
	{4, "GET", "https://stackoverflow.com/questions/%n/how-to-parse-json-in-csharp", "104.18.32.7", uaChrome, "https://www.google.com/", 200, "TCP_MISS"},
	{4, "GET", "https://learn.microsoft.com/en-us/dotnet/api/system.string.format?view=net-9.0", "23.55.161.52", uaChrome, "https://www.bing.com/", 200, "TCP_MISS"},
	{8, "GET", "https://fonts.gstatic.com/s/roboto/v30/KFOmCnqEu92Fr1Mu4mxK.woff2", "142.250.185.195", uaChrome, "https://www.google.com/", 200, "TCP_HIT"},
	{6, "GET", "https://www.gstatic.com/og/_/js/k=og.qtm.en_US.%x.O/rt=j/m=qabr/exm=qaaw/d=1/ed=1/rs=AA2YrTv", "142.250.185.195", uaChrome, "https://www.google.com/", 200, "TCP_HIT"},
	{5, "GET", "https://northwind.sharepoint.com/sites/finance/Shared%20Documents/Budget_%n.xlsx", "13.107.136.10", uaChrome, "https://northwind.sharepoint.com/sites/finance", 200, "TCP_MISS"},
	{3, "GET", "https://northwind.sharepoint.com/_layouts/15/images/favicon.ico", "13.107.136.10", uaChrome, "https://northwind.sharepoint.com/sites/finance", 304, "TCP_HIT"},
	{8, "POST", "https://teams.microsoft.com/api/chatsvc/emea/v1/users/ME/conversations/19%3Ameeting_%x%40thread.v2/messages", "52.113.194.132", uaTeams, "", 201, "TCP_MISS"},
	{4, "GET", "https://teams.microsoft.com/api/mt/emea/beta/users/presence?ids=%g", "52.113.194.132", uaTeams, "", 200, "TCP_MISS"},
	{6, "POST", "https://outlook.office365.com/EWS/Exchange.asmx", "52.98.151.66", uaOutlook, "", 200, "TCP_MISS"},
	{3, "POST", "https://login.microsoftonline.com/common/oauth2/v2.0/token", "20.190.160.20", uaOutlook, "", 200, "TCP_MISS"},
	{2, "GET", "https://marketplace.visualstudio.com/_apis/public/gallery/vscode/ms-dotnettools/csharp/latest", "13.107.42.18", uaCode, "", 200, "TCP_MISS"},
	{2, "POST", "https://github.com/northwind/billing-api.git/git-upload-pack", "140.82.121.4", uaGit, "", 200, "TCP_MISS"},
	{3, "GET", "http://ctldl.windowsupdate.com/msdownload/update/v3/static/trustedr/en/disallowedcertstl.cab?%x", "23.55.161.140", uaCAPI, "", 304, "TCP_HIT"},
	{2, "GET", "http://dl.delivery.mp.microsoft.com/filestreamingservice/files/%g?P1=%n&P2=404&P3=2&P4=%x", "152.199.19.161", uaDO, "", 206, "TCP_MISS"},
	{2, "GET", "https://dl.google.com/tag/s/appguid%3D%7B8A69D345-D564-463C-AFF1-A69D9E530F96%7D/update2/installers/ChromeSetup.exe", "142.250.186.174", uaChrome, "https://www.google.com/chrome/", 200, "TCP_MISS"},
	{2, "POST", "https://g.live.com/odclientsettings/ProdV2?OneDriveUpdate=%x", "13.107.42.13", uaOneDrv, "", 200, "TCP_MISS"},
	{1, "GET", "https://www.northwind-partners.com/assets/img/logo.png", "93.184.215.14", uaChrome, "https://www.northwind-partners.com/", 200, "TCP_MISS"},
}

// hitProxyTemplates are suspicious requests (see hits.go).
var hitProxyTemplates = []proxyTmpl{
	{1, "GET", "http://cdn-update.top/files/invoice_%n.exe", "203.0.113.61", uaChrome, "", 200, "TCP_MISS"},
	{1, "GET", "http://update.hopto.org/dl/svchost.exe", "198.51.100.72", uaChrome, "", 200, "TCP_MISS"},
	{1, "GET", "https://paste.ee/r/%x", "172.67.205.10", uaPowerShell, "", 200, "TCP_MISS"},
	{1, "GET", "http://%a/a.exe", "", uaBITS, "", 200, "TCP_MISS"},
	{1, "GET", "http://%a/share/payload.dll", "", uaWebDAV, "", 200, "TCP_MISS"},
	{1, "POST", "https://api.telegram.org/bot%n:AAH%x/sendDocument?chat_id=%n", "149.154.167.220", uaPython, "", 200, "TCP_MISS"},
	{1, "PUT", "https://g.api.mega.co.nz/cs?id=%n&sid=%x", "66.203.125.11", uaRclone, "", 200, "TCP_MISS"},
	{1, "POST", "http://%a:3333/", "", uaXMRig, "", 200, "TCP_MISS"},
	{1, "GET", "http://%a/gate.php?id=%x", "", "", "", 200, "TCP_MISS"},
	{1, "GET", "http://%a/admin/login.php", "", uaMasscan, "", 404, "TCP_MISS"},
	{1, "GET", "http://%a/updates/check", "", uaMetasploit, "", 200, "TCP_MISS"},
	{1, "GET", "http://www.advanced-ip-scanner.com/checkupdate.php?lng=en&ver=2-5-4594-1&beta=n&type=upd&rmode=p&product=aips", "104.21.4.12", "", "", 200, "TCP_MISS"},
}

// proxyState holds the per-generator pickers of the proxy templates.
type proxyState struct {
	bg     picker
	bufURL []byte
}

func (p *proxyState) init(*Generator) {
	w := make([]int, len(proxyTemplates))
	for i := range proxyTemplates {
		w[i] = proxyTemplates[i].weight
	}
	p.bg = newPicker(w)
	p.bufURL = make([]byte, 0, 512)
}

// backgroundProxy emits a request of a workstation's user.
func (g *Generator) backgroundProxy(dst []byte, t time.Time) []byte {
	return g.appendProxy(dst, t, &proxyTemplates[g.proxy.bg.pick(g.rng)])
}

func (g *Generator) hitProxy(dst []byte, t time.Time, tp *proxyTmpl) []byte {
	return g.appendProxy(dst, t, tp)
}

// appendProxy writes one proxy log record of tp for a random workstation's user.
func (g *Generator) appendProxy(dst []byte, t time.Time, tp *proxyTmpl) []byte {
	es := g.e
	h := &es.hosts[es.workstations[g.rng.IntN(len(es.workstations))]]
	u := g.hostUser(h)
	url := g.expand(g.proxy.bufURL[:0], tp.url, h, u)
	g.proxy.bufURL = url
	hostStart := bytes.Index(url, []byte("://")) + 3
	pathStart := hostStart + bytes.IndexByte(url[hostStart:], '/')
	host := url[hostStart:pathStart]
	if i := bytes.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	stem, query := url[pathStart:], url[len(url):]
	if i := bytes.IndexByte(stem, '?'); i >= 0 {
		stem, query = stem[:i], stem[i+1:]
	}
	ext := stem[len(stem):]
	if i := bytes.LastIndexByte(stem, '/'); i >= 0 {
		if j := bytes.LastIndexByte(stem[i:], '.'); j >= 0 {
			ext = stem[i+j+1:]
		}
	}
	csBytes := int64(350 + g.rng.IntN(900))
	if tp.method == "POST" || tp.method == "PUT" {
		csBytes += int64(g.rng.IntN(40000))
	}

	dst = append(dst, '{')
	dst = appendKey(dst, "@timestamp")
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05.000Z")
	dst = append(dst, '"')
	dst = appendStr(dst, "c-ip", h.ip)
	dst = appendStr(dst, "c-uri", url)
	dst = appendLowerStr(dst, "c-uri-extension", ext)
	dst = appendStr(dst, "c-uri-query", query)
	dst = appendStr(dst, "c-uri-stem", stem)
	dst = appendStr(dst, "c-useragent", tp.ua)
	dst = appendNum(dst, "cs-bytes", csBytes)
	dst = appendStr(dst, "cs-host", host)
	dst = appendStr(dst, "cs-method", tp.method)
	dst = appendStr(dst, "cs-referrer", tp.referrer)
	if u != nil {
		dst = appendStr(dst, "cs-username", u.qualified)
	} else {
		dst = appendStr(dst, "cs-username", "")
	}
	dst = appendStr(dst, "r-dns", host)
	if tp.ip != "" {
		dst = appendStr(dst, "r-ip", tp.ip)
	} else {
		dst = appendStr(dst, "r-ip", host)
	}
	dst = appendStr(dst, "s-action", tp.action)
	dst = appendNum(dst, "sc-bytes", int64(200+g.rng.IntN(250000)))
	dst = appendNum(dst, "sc-status", tp.status)
	dst = strconv.AppendInt(appendKey(dst, "time-taken"), int64(5+g.rng.IntN(400)), 10)
	return append(dst, '}')
}

// appendLowerStr appends the string member key: s in ASCII lower case.
func appendLowerStr(dst []byte, key string, s []byte) []byte {
	dst = append(appendKey(dst, key), '"')
	for _, c := range s {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c < 0x20 || c == '"' || c == '\\' {
			continue // never in an extension the templates produce
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}
