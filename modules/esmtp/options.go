package esmtp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
)

// ModuleName is the listener's module name and its configuration stanza
// keyword: `ESMTP_Listener { Listen "127.0.0.1:25" { } }`.
const ModuleName = "ESMTP_Listener"

// listenerFallback is where a per-connection option may be set, most specific
// first: Peer (inside a Listen, then directly in the listener), Listen, the
// listener, then the global scope (Momentum's documented order), and the
// built-in default last. A core option of the same name valid in Global would
// be refused by the configuration registry with both definitions named.
const listenerFallback = "ESMTP_Listener:Listen:Peer>ESMTP_Listener:Peer>ESMTP_Listener:Listen>ESMTP_Listener>Global"

// listenFallback is for options of a listening socket, not of a connection.
const listenFallback = "ESMTP_Listener:Listen>ESMTP_Listener"

// moduleFallback is for options of the listener as a whole.
const moduleFallback = "[ESMTP_Listener]"

// defaultExtensions is SMTP_Extensions' default. STARTTLS is offered only
// when a certificate is configured.
const defaultExtensions = `( "PIPELINING" "SIZE" "8BITMIME" "ENHANCEDSTATUSCODES" "STARTTLS" )`

// optionSet holds the handles of the listener's options, defined once per
// process in ConfSetup.
type optionSet struct {
	enable          *config.Option[bool]
	listenBacklog   *config.Option[int64]
	idleTime        *config.Option[int64]
	greetingTimeout *config.Option[int64]
	dataBlock       *config.Option[int64]
	dataTerm        *config.Option[int64]
	maxMsgSize      *config.Option[uint64]
	maxRcptMsg      *config.Option[int64]
	maxRcptConn     *config.Option[int64]
	maxRecvConn     *config.Option[int64]
	requireEHLO     *config.Option[bool]
	staticBanner    *config.Option[string]
	bannerHost      *config.Option[string]
	extensions      *config.Option[[]string]
	reconfigMsg     *config.Option[string]
	shutdownMsg     *config.Option[string]
	listenerSess    *config.Option[int64]
	peerSess        *config.Option[int64]
	relayHosts      *config.Option[[]string]
	relayDomains    *config.Option[[]string]
	openRelay       *config.Option[bool]
	tlsCert         *config.Option[string]
	tlsKey          *config.Option[string]
	context         *config.Option[config.Dict]
	bareLF          *config.Option[string]
	maxLine         *config.Option[int64]

	groupCommit  *config.Option[bool]
	commitWindow *config.Option[float64]
	chunkSize    *config.Option[uint64]
	segmentSize  *config.Option[uint64]
	syncMethod   *config.Option[string]

	// spoolbase and forceFsync are global options that the daemon may define
	// first; nil then, and read from the tree (see globalString).
	spoolbase  *config.Option[string]
	forceFsync *config.Option[bool]
}

func positive(v int64) error {
	if v < 0 {
		return fmt.Errorf("must not be negative")
	}
	return nil
}

func defineOptions(reg *config.Registry) (*optionSet, error) {
	if err := reg.DefineScope(config.ScopeDef{Keyword: ModuleName, Children: []string{"Listen", "Peer"}}); err != nil {
		return nil, fmt.Errorf("esmtp: define scope: %w", err)
	}
	o := &optionSet{}
	var errs []error
	def := func(err error) { errs = append(errs, err) }
	str := func(name, fb, dflt string, validate func(string) error) *config.Option[string] {
		opt, err := config.Define(reg, config.Spec[string]{Name: name, Fallback: fb, Default: dflt, Validate: validate}, config.StringType())
		def(err)
		return opt
	}
	num := func(name, fb, dflt string) *config.Option[int64] {
		opt, err := config.Define(reg, config.Spec[int64]{Name: name, Fallback: fb, Default: dflt, Validate: positive}, config.IntType())
		def(err)
		return opt
	}
	flag := func(name, fb, dflt string) *config.Option[bool] {
		opt, err := config.Define(reg, config.Spec[bool]{Name: name, Fallback: fb, Default: dflt}, config.BoolType())
		def(err)
		return opt
	}
	list := func(name, fb, dflt string, validate func([]string) error) *config.Option[[]string] {
		opt, err := config.Define(reg, config.Spec[[]string]{Name: name, Fallback: fb, Default: dflt, Validate: validate}, config.ArrayOf(config.StringType()))
		def(err)
		return opt
	}
	o.enable = flag("Enable", listenFallback, "true")
	o.listenBacklog = num("Listen_Backlog", listenFallback, "500")
	o.idleTime = num("Idle_Time", listenerFallback, "300")
	o.greetingTimeout = num("Greeting_Timeout", listenerFallback, "300")
	o.dataBlock = num("Data_Block_Timeout", listenerFallback, "180")
	o.dataTerm = num("Data_Termination_Timeout", listenerFallback, "600")
	var err error
	o.maxMsgSize, err = config.Define(reg, config.Spec[uint64]{Name: "Max_Message_Size", Fallback: listenerFallback, Default: "0"}, config.SizeType())
	def(err)
	o.maxRcptMsg = num("Max_Recipients_Per_Message", listenerFallback, "1000")
	o.maxRcptConn = num("Max_Recipients_Per_Connection", listenerFallback, "0")
	o.maxRecvConn = num("Max_Receptions_Per_Connection", listenerFallback, "0")
	o.requireEHLO = flag("Require_EHLO", listenerFallback, "false")
	o.staticBanner = str("Static_Banner", listenerFallback, "", func(v string) error {
		if v != "" && !strings.HasPrefix(v, "220") {
			return errors.New("must start with 220")
		}
		return nil
	})
	o.bannerHost = str("Banner_Hostname", listenerFallback, "", nil)
	o.extensions = list("SMTP_Extensions", listenerFallback, defaultExtensions, func(v []string) error {
		for _, e := range v {
			if _, ok := knownExtensions[strings.ToUpper(e)]; !ok {
				return fmt.Errorf("unknown extension %q", e)
			}
		}
		return nil
	})
	o.reconfigMsg = str("Reconfig_Message", listenerFallback, `"4.3.2 Reconfiguration in progress"`, nil)
	o.shutdownMsg = str("Shutdown_Message", listenerFallback, `"4.3.2 Service shutting down"`, nil)
	o.listenerSess = num("Listener_Sessions", listenFallback, "0")
	o.peerSess = num("Peer_Sessions", listenerFallback, "0")
	o.relayHosts = list("Relay_Hosts", listenerFallback, "", func(v []string) error {
		_, err := parsePrefixes(v)
		return err
	})
	o.relayDomains = list("Relay_Domains", listenerFallback, "", nil)
	o.openRelay = flag("Open_Relay", listenerFallback, "false")
	o.tlsCert = str("TLS_Certificate", listenerFallback, "", nil)
	o.tlsKey = str("TLS_Key", listenerFallback, "", nil)
	o.context, err = config.Define(reg, config.Spec[config.Dict]{Name: "Context", Fallback: listenerFallback}, config.DictType())
	def(err)
	o.bareLF = str("Bare_LF", listenerFallback, "reject", func(v string) error {
		if v != "reject" && v != "accept" {
			return errors.New(`must be "reject" or "accept"`)
		}
		return nil
	})
	o.maxLine = num("Max_Line_Length", listenerFallback, "1000")

	o.groupCommit = flag("Spool_Group_Commit", moduleFallback, "true")
	o.commitWindow, err = config.Define(reg, config.Spec[float64]{Name: "Spool_Commit_Window", Fallback: moduleFallback, Default: "0", Validate: func(v float64) error {
		if v < 0 || v > 1 {
			return errors.New("must be between 0 and 1 second")
		}
		return nil
	}}, config.FloatType())
	def(err)
	o.syncMethod = str("Spool_Sync_Method", moduleFallback, "fdatasync", func(v string) error {
		if v != "fdatasync" && v != "syncfs" {
			return errors.New(`must be "fdatasync" or "syncfs"`)
		}
		return nil
	})
	o.chunkSize, err = config.Define(reg, config.Spec[uint64]{Name: "Spool_Chunk_Size", Fallback: moduleFallback, Default: "1m"}, config.SizeType())
	def(err)
	o.segmentSize, err = config.Define(reg, config.Spec[uint64]{Name: "Spool_Segment_Size", Fallback: moduleFallback, Default: "64m"}, config.SizeType())
	def(err)

	// Spoolbase and Force_Fsync are the server's: define them unless the
	// daemon already did.
	if sb, err := config.Define(reg, config.Spec[string]{Name: "Spoolbase", Fallback: "Global", Default: `"/var/spool/ecelerity"`, NotDynamic: true}, config.StringType()); err == nil {
		o.spoolbase = sb
	} else if !errors.Is(err, config.ErrDuplicate) {
		def(err)
	}
	if ff, err := config.Define(reg, config.Spec[bool]{Name: "Force_Fsync", Fallback: "Global", Default: "true", NotDynamic: true}, config.BoolType()); err == nil {
		o.forceFsync = ff
	} else if !errors.Is(err, config.ErrDuplicate) {
		def(err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("esmtp: define options: %w", err)
	}
	return o, nil
}

// globalString reads a top-level option from the generation's tree: for
// the global options another package defined first.
func globalString(g *config.Generation, name, dflt string) string {
	if e := g.Tree().Root().Option(name); e != nil && e.Value.Kind == config.ScalarValue {
		return e.Value.Text
	}
	return dflt
}

// CheckConfig checks what the listener reads from the names of its scopes in
// tree, which no option's validation sees: every Listen of the
// ESMTP_Listener stanza is an address with a port in 0-65535 and listed once,
// every Peer a CIDR or an address. Each problem is a *config.Error with its
// file:line:col (config.ErrBadValue); several come as a config.ErrorList.
// `ecelerity --check` calls it, since otherwise only a generation's ExtInit
// (at start-up or reload) would parse them; ExtInit calls it first too. Any
// goroutine.
func CheckConfig(tree *config.Tree) error {
	lst := tree.Root().Child(ModuleName, "")
	if lst == nil {
		return nil
	}
	var errs config.ErrorList
	bad := func(c *config.Scope, format string, args ...any) {
		msg := fmt.Sprintf("%s: %s %q: ", ModuleName, c.Keyword, c.Name) + fmt.Sprintf(format, args...)
		errs = append(errs, &config.Error{Pos: c.Pos, Kind: config.ErrBadValue, Msg: msg})
	}
	peer := func(c *config.Scope) {
		if _, err := parsePrefix(c.Name); err != nil {
			bad(c, "%v", err)
		}
	}
	seen := map[netip.AddrPort]bool{}
	for _, c := range lst.Children {
		switch {
		case strings.EqualFold(c.Keyword, "Peer"):
			peer(c)
		case strings.EqualFold(c.Keyword, "Listen"):
			ap, err := config.SockAddrType().Parse(config.Scalar(c.Name))
			if err != nil {
				bad(c, "%v", err)
			} else if seen[ap] {
				bad(c, "address listed twice")
			}
			seen[ap] = true
			for _, pc := range c.Children {
				if strings.EqualFold(pc.Keyword, "Peer") {
					peer(pc)
				}
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
