package esmtp

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/modules/esmtp/smtpproto"
)

// extFlags is the set of SMTP extensions a session offers.
type extFlags uint8

const (
	extPipelining extFlags = 1 << iota
	extSize
	ext8BitMIME
	extEnhanced
	extStartTLS
)

var knownExtensions = map[string]extFlags{
	"PIPELINING": extPipelining, "SIZE": extSize, "8BITMIME": ext8BitMIME,
	"ENHANCEDSTATUSCODES": extEnhanced, "STARTTLS": extStartTLS,
}

// settings are the resolved options of one (Listen, Peer) pair of one
// generation: what a session reads on every command, so that it never
// fetches from the configuration on the hot path. Immutable once built.
type settings struct {
	host          string
	banner        string // Static_Banner, or "" for the standard greeting
	version       string
	idle          time.Duration
	greeting      time.Duration
	dataBlock     time.Duration
	dataTerm      time.Duration
	maxSize       uint64
	maxRcptMsg    int
	maxRcptConn   int
	maxRecvConn   int
	requireEHLO   bool
	ext           extFlags
	reconfig      smtpproto.Reply // to a session whose Listen a reload removed
	shutdown      smtpproto.Reply // to every session when the daemon stops
	peerSessions  int
	relayHosts    []netip.Prefix
	relayDomains  map[string]bool
	openRelay     bool
	tls           *tls.Config
	context       config.Dict
	acceptBareLF  bool
	maxLine       int
	ehloTail      []byte // the EHLO reply after its first line
	ehloTailTLS   []byte // the same once TLS is on: no STARTTLS
	mailLineLimit int
}

// listenPlan is one Listen scope of a generation.
type listenPlan struct {
	name     string // as configured
	key      string // "tcp4 127.0.0.1:25": what sockets are shared by
	network  string
	addr     netip.AddrPort
	backlog  int
	sessions int // Listener_Sessions
	base     *settings
	peers    []peerPlan // most specific prefix first
}

type peerPlan struct {
	prefix netip.Prefix
	set    *settings
}

// settingsFor returns the settings of the most specific Peer scope matching
// ip, or the Listen's own.
func (lp *listenPlan) settingsFor(ip netip.Addr) *settings {
	ip = ip.Unmap()
	for _, p := range lp.peers {
		if p.prefix.Contains(ip) {
			return p.set
		}
	}
	return lp.base
}

// plan is the listener's view of one configuration generation.
type plan struct {
	listens   map[string]*listenPlan // by key
	order     []*listenPlan          // configuration order
	domains   map[string]bool        // Domain stanzas, lower case
	domainRes []*regexp.Regexp       // "/regex/" Domain stanzas, in order

	spoolDir string
	fsync    bool
	group    bool
	syncFS   bool
	window   time.Duration
	chunk    int
	segSize  int64 // spool.Options.SegmentSize: negative for one file per message
}

// servesDomain reports whether d is one of the configuration's Domain scopes
// or the settings' Relay_Domains.
func (p *plan) servesDomain(set *settings, d string) bool {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if p.domains[d] || set.relayDomains[d] {
		return true
	}
	for _, re := range p.domainRes {
		if re.MatchString(d) {
			return true
		}
	}
	return false
}

// reply421 is the 421 reply of a configured message, whose first word is its
// enhanced code when it has the form of one.
func reply421(text string) smtpproto.Reply {
	r := smtpproto.Reply{Code: 421, Text: text}
	if e, rest, ok := strings.Cut(text, " "); ok && isEnhanced(e) {
		r.Enhanced, r.Text = e, rest
	}
	return r
}

// parsePrefixes reads CIDRs or single addresses.
func parsePrefixes(v []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(v))
	for _, s := range v {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %w", s, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad address %q: %w", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// buildPlan resolves every Listen and Peer scope of g. It reads files (TLS
// certificates): off the loop.
func buildPlan(o *optionSet, g *config.Generation, version string) (*plan, error) {
	p := &plan{listens: map[string]*listenPlan{}, domains: map[string]bool{}}
	root := g.Tree().Root()
	for _, c := range root.Children {
		if !strings.EqualFold(c.Keyword, "Domain") {
			continue
		}
		if n := c.Name; len(n) > 2 && n[0] == '/' && n[len(n)-1] == '/' {
			re, err := regexp.Compile(n[1 : len(n)-1])
			if err != nil {
				return nil, fmt.Errorf("esmtp: Domain %q: %w", n, err)
			}
			p.domainRes = append(p.domainRes, re)
		} else {
			p.domains[strings.ToLower(n)] = true
		}
	}
	if o.spoolbase != nil {
		p.spoolDir = o.spoolbase.Global(g)
	} else {
		p.spoolDir = globalString(g, "Spoolbase", "/var/spool/ecelerity")
	}
	if o.forceFsync != nil {
		p.fsync = o.forceFsync.Global(g)
	} else {
		v, err := config.BoolType().Parse(config.Scalar(globalString(g, "Force_Fsync", "true")))
		if err != nil {
			return nil, fmt.Errorf("esmtp: Force_Fsync: %w", err)
		}
		p.fsync = v
	}
	p.group = o.groupCommit.Module(g, "")
	p.syncFS = o.syncMethod.Module(g, "") == "syncfs"
	p.window = time.Duration(o.commitWindow.Module(g, "") * float64(time.Second))
	p.segSize = int64(o.segmentSize.Module(g, ""))
	if p.segSize == 0 {
		p.segSize = -1 // 0 in the configuration: no segments
	}
	p.chunk = int(o.chunkSize.Module(g, ""))
	if p.chunk < 64<<10 {
		p.chunk = 64 << 10
	}

	lst := root.Child(ModuleName, "")
	if lst == nil {
		return p, nil
	}
	// The names of the scopes, with their positions; what remains to fail
	// below is what only the files they name can say (TLS).
	if err := CheckConfig(g.Tree()); err != nil {
		return nil, err
	}
	tlsCache := map[[2]string]*tls.Config{}
	var listenerPeers []*config.Scope
	for _, c := range lst.Children {
		if strings.EqualFold(c.Keyword, "Peer") {
			listenerPeers = append(listenerPeers, c)
		}
	}
	for _, c := range lst.Children {
		if !strings.EqualFold(c.Keyword, "Listen") {
			continue
		}
		lref := config.Ref("Listen", c.Name)
		if !o.enable.Fetch(g, lref) {
			continue
		}
		ap, err := config.SockAddrType().Parse(config.Scalar(c.Name))
		if err != nil {
			return nil, fmt.Errorf("esmtp: Listen %q: %w", c.Name, err)
		}
		network := "tcp4"
		if ap.Addr().Is6() && !ap.Addr().Is4In6() {
			network = "tcp6"
		}
		lp := &listenPlan{
			name: c.Name, network: network, addr: ap, key: network + " " + ap.String(),
			backlog:  int(o.listenBacklog.Fetch(g, lref)),
			sessions: int(o.listenerSess.Fetch(g, lref)),
		}
		if _, dup := p.listens[lp.key]; dup {
			return nil, fmt.Errorf("esmtp: Listen %q: address listed twice", c.Name)
		}
		if lp.base, err = resolveSettings(o, g, version, tlsCache, lref); err != nil {
			return nil, fmt.Errorf("esmtp: Listen %q: %w", c.Name, err)
		}
		seen := map[string]bool{}
		peers := append([]*config.Scope(nil), listenerPeers...)
		for _, pc := range c.Children {
			if strings.EqualFold(pc.Keyword, "Peer") {
				peers = append(peers, pc)
			}
		}
		for _, pc := range peers {
			if seen[pc.Name] {
				continue
			}
			seen[pc.Name] = true
			prefix, err := parsePrefix(pc.Name)
			if err != nil {
				return nil, fmt.Errorf("esmtp: Peer %q: %w", pc.Name, err)
			}
			set, err := resolveSettings(o, g, version, tlsCache, lref, config.Ref("Peer", pc.Name))
			if err != nil {
				return nil, fmt.Errorf("esmtp: Peer %q: %w", pc.Name, err)
			}
			lp.peers = append(lp.peers, peerPlan{prefix: prefix, set: set})
		}
		sort.SliceStable(lp.peers, func(i, j int) bool { return lp.peers[i].prefix.Bits() > lp.peers[j].prefix.Bits() })
		p.listens[lp.key] = lp
		p.order = append(p.order, lp)
	}
	return p, nil
}

func seconds(v int64) time.Duration { return time.Duration(v) * time.Second }

func resolveSettings(o *optionSet, g *config.Generation, version string, tlsCache map[[2]string]*tls.Config, refs ...config.ScopeRef) (*settings, error) {
	s := &settings{
		banner:       o.staticBanner.Fetch(g, refs...),
		host:         o.bannerHost.Fetch(g, refs...),
		version:      version,
		idle:         seconds(o.idleTime.Fetch(g, refs...)),
		greeting:     seconds(o.greetingTimeout.Fetch(g, refs...)),
		dataBlock:    seconds(o.dataBlock.Fetch(g, refs...)),
		dataTerm:     seconds(o.dataTerm.Fetch(g, refs...)),
		maxSize:      o.maxMsgSize.Fetch(g, refs...),
		maxRcptMsg:   int(o.maxRcptMsg.Fetch(g, refs...)),
		maxRcptConn:  int(o.maxRcptConn.Fetch(g, refs...)),
		maxRecvConn:  int(o.maxRecvConn.Fetch(g, refs...)),
		requireEHLO:  o.requireEHLO.Fetch(g, refs...),
		peerSessions: int(o.peerSess.Fetch(g, refs...)),
		openRelay:    o.openRelay.Fetch(g, refs...),
		context:      o.context.Fetch(g, refs...),
		acceptBareLF: o.bareLF.Fetch(g, refs...) == "accept",
		maxLine:      int(o.maxLine.Fetch(g, refs...)),
	}
	if s.host == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		s.host = h
	}
	if s.maxLine < smtpproto.MaxTextLine {
		// RFC 5321 section 4.5.3.1.6: at least 1000 octets must be accepted.
		s.maxLine = smtpproto.MaxTextLine
	}
	for _, e := range o.extensions.Fetch(g, refs...) {
		s.ext |= knownExtensions[strings.ToUpper(e)]
	}
	var err error
	if s.relayHosts, err = parsePrefixes(o.relayHosts.Fetch(g, refs...)); err != nil {
		return nil, err
	}
	if ds := o.relayDomains.Fetch(g, refs...); len(ds) > 0 {
		s.relayDomains = make(map[string]bool, len(ds))
		for _, d := range ds {
			s.relayDomains[strings.ToLower(d)] = true
		}
	}
	s.reconfig = reply421(o.reconfigMsg.Fetch(g, refs...))
	s.shutdown = reply421(o.shutdownMsg.Fetch(g, refs...))
	cert, key := o.tlsCert.Fetch(g, refs...), o.tlsKey.Fetch(g, refs...)
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("TLS_Certificate and TLS_Key go together")
	}
	if cert != "" {
		k := [2]string{cert, key}
		if s.tls = tlsCache[k]; s.tls == nil {
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("TLS: %w", err)
			}
			s.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
			tlsCache[k] = s.tls
		}
	} else {
		s.ext &^= extStartTLS
	}
	s.mailLineLimit = smtpproto.MaxCommandLine
	if s.ext&(extSize|ext8BitMIME) != 0 {
		s.mailLineLimit += smtpproto.MailParamAllowance
	}
	s.ehloTail = s.buildEHLOTail(s.ext)
	s.ehloTailTLS = s.buildEHLOTail(s.ext &^ extStartTLS)
	return s, nil
}

// buildEHLOTail formats the extension lines of the EHLO reply.
func (s *settings) buildEHLOTail(ext extFlags) []byte {
	var lines []string
	if ext&extPipelining != 0 {
		lines = append(lines, "PIPELINING")
	}
	if ext&extSize != 0 {
		if s.maxSize > 0 {
			lines = append(lines, "SIZE "+strconv.FormatUint(s.maxSize, 10))
		} else {
			lines = append(lines, "SIZE")
		}
	}
	if ext&ext8BitMIME != 0 {
		lines = append(lines, "8BITMIME")
	}
	if ext&extEnhanced != 0 {
		lines = append(lines, "ENHANCEDSTATUSCODES")
	}
	if ext&extStartTLS != 0 {
		lines = append(lines, "STARTTLS")
	}
	var b []byte
	for i, l := range lines {
		sep := byte('-')
		if i == len(lines)-1 {
			sep = ' '
		}
		b = append(b, '2', '5', '0', sep)
		b = append(b, l...)
		b = append(b, '\r', '\n')
	}
	return b
}
