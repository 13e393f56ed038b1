package server

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/logging"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// Scope keywords the server defines.
const (
	scopeThreadPool      = "ThreadPool"
	scopeControlListener = "Control_Listener"
	scopeListen          = "Listen"
	scopeLogging         = "Logging"
	scopeDebugFlags      = "Debug_Flags"
)

// Names of core options read before the first generation exists.
const optNativeRuntimeDir = "Native_Runtime_Dir"

// coreOptions are the handles of the options the server owns; see the package
// comment for the configuration they read.
type coreOptions struct {
	concurrency *config.Option[int64]
	backlog     *config.Option[int64]

	fileMode   *config.Option[fs.FileMode]
	enableAuth *config.Option[bool]
	secretFile *config.Option[string]
	timeout    *config.Option[int64]

	paniclog, mainlog, rejectlog, auditlog *config.Option[string]
	logMode                                *config.Option[fs.FileMode]

	timestampFormat *config.Option[string]
	debugFlags      [6]*config.Option[[]string] // by logging.Level
	spoolbase       *config.Option[string]
	metricsAddress  *config.Option[string]
	nativeDir       *config.Option[string]
	dynamicReload   *config.Option[bool]
}

func nonNegative(v int64) error {
	if v < 0 {
		return errors.New("must not be negative")
	}
	return nil
}

// defineCore defines the server's scopes and options in reg.
func defineCore(reg *config.Registry) (*coreOptions, error) {
	for _, d := range []config.ScopeDef{
		{Keyword: scopeThreadPool, Named: true, Parents: []string{"Global"}},
		{Keyword: scopeControlListener, Parents: []string{"Global"}, Children: []string{scopeListen}},
		{Keyword: scopeLogging, Parents: []string{"Global"}},
		{Keyword: scopeDebugFlags, Parents: []string{"Global"}},
	} {
		if err := reg.DefineScope(d); err != nil {
			return nil, fmt.Errorf("server: define scope %s: %w", d.Keyword, err)
		}
	}
	o := &coreOptions{}
	var errs []error
	def := func(err error) { errs = append(errs, err) }
	var err error

	o.concurrency, err = config.Define(reg, config.Spec[int64]{Name: "Concurrency", Fallback: scopeThreadPool, Validate: nonNegative}, config.IntType())
	def(err)
	o.backlog, err = config.Define(reg, config.Spec[int64]{Name: "Backlog", Fallback: scopeThreadPool, Validate: nonNegative}, config.IntType())
	def(err)

	listen := scopeControlListener + ":" + scopeListen
	o.fileMode, err = config.Define(reg, config.Spec[fs.FileMode]{Name: "File_Mode", Fallback: listen, Default: "0600", NotDynamic: true}, config.PermsType())
	def(err)
	o.enableAuth, err = config.Define(reg, config.Spec[bool]{Name: "Enable_Authentication", Fallback: listen + ">" + scopeControlListener, Default: "false", NotDynamic: true}, config.BoolType())
	def(err)
	o.secretFile, err = config.Define(reg, config.Spec[string]{Name: "Secret_File", Fallback: listen + ">" + scopeControlListener, NotDynamic: true}, config.StringType())
	def(err)
	o.timeout, err = config.Define(reg, config.Spec[int64]{Name: "Timeout", Fallback: scopeControlListener, Default: "60", NotDynamic: true,
		Validate: func(v int64) error {
			if v <= 0 {
				return errors.New("must be a positive number of seconds")
			}
			return nil
		}}, config.IntType())
	def(err)

	logPath := func(name string) *config.Option[string] {
		opt, err := config.Define(reg, config.Spec[string]{Name: name, Fallback: scopeLogging}, config.StringType())
		def(err)
		return opt
	}
	o.paniclog, o.mainlog, o.rejectlog, o.auditlog = logPath("Paniclog"), logPath("Mainlog"), logPath("Rejectlog"), logPath("Auditlog")
	o.logMode, err = config.Define(reg, config.Spec[fs.FileMode]{Name: "Log_Mode", Fallback: scopeLogging, Default: "0640"}, config.PermsType())
	def(err)

	o.timestampFormat, err = config.Define(reg, config.Spec[string]{Name: "TimestampFormat", Fallback: "Global", Default: `"` + logging.DefaultTimestampFormat + `"`}, config.StringType())
	def(err)
	for l := logging.Debug; l <= logging.Critical; l++ {
		o.debugFlags[l], err = config.Define(reg, config.Spec[[]string]{Name: l.String(), Fallback: scopeDebugFlags}, config.ArrayOf(config.StringType()))
		def(err)
	}
	o.spoolbase, err = config.Define(reg, config.Spec[string]{Name: "Spoolbase", Fallback: "Global", Default: "/var/spool/ecelerity", NotDynamic: true}, config.StringType())
	def(err)
	o.metricsAddress, err = config.Define(reg, config.Spec[string]{Name: "Metrics_Address", Fallback: "Global", NotDynamic: true}, config.StringType())
	def(err)
	// Read from the file before generation 1 exists (the native loader is made
	// before the module manager); defined so that it validates and shows in config.
	o.nativeDir, err = config.Define(reg, config.Spec[string]{Name: optNativeRuntimeDir, Fallback: "Global", NotDynamic: true}, config.StringType())
	def(err)
	o.dynamicReload, err = config.Define(reg, config.Spec[bool]{Name: "Dynamic_Reload_Mode", Fallback: "Global", Default: "true"}, config.BoolType())
	def(err)
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("server: define core options: %w", err)
	}
	return o, nil
}

// controlListen is one Listen of the Control_Listener.
type controlListen struct {
	Address    string // a socket path, or host:port
	Unix       bool
	FileMode   fs.FileMode
	Auth       bool
	SecretFile string
}

// coreSettings are the values of the server's options in one generation.
type coreSettings struct {
	pools     []threadpool.Spec
	control   []controlListen
	timeout   time.Duration
	logs      logging.Paths
	tsFormat  string
	coreLevel logging.Level
	modLevels map[string]logging.Level
	spoolbase string
	metrics   string
	// dynamicReload is Dynamic_Reload_Mode: whether a changed native library is
	// loaded anew at a reload (off: once per process).
	dynamicReload bool
}

// read collects the settings of g. Scope instances are read from the generation's
// tree, since a fetch needs the instance names.
func (o *coreOptions) read(g *config.Generation) (*coreSettings, error) {
	s := &coreSettings{
		tsFormat:  o.timestampFormat.Global(g),
		spoolbase: o.spoolbase.Global(g),
		metrics:   o.metricsAddress.Global(g),
		coreLevel: logging.DefaultCoreLevel,

		dynamicReload: o.dynamicReload.Global(g),
		modLevels:     map[string]logging.Level{},
	}
	s.timeout = time.Duration(o.timeout.Fetch(g)) * time.Second
	s.logs = logging.Paths{
		Paniclog: o.paniclog.Fetch(g), Mainlog: o.mainlog.Fetch(g),
		Rejectlog: o.rejectlog.Fetch(g), Auditlog: o.auditlog.Fetch(g), Mode: o.logMode.Fetch(g),
	}
	for l := logging.Debug; l <= logging.Critical; l++ {
		if len(o.debugFlags[l].Fetch(g)) > 0 {
			s.coreLevel = l
			break
		}
	}
	root := g.Tree().Root()
	var errs []error
	for _, c := range root.Children {
		switch {
		case strings.EqualFold(c.Keyword, scopeThreadPool):
			ref := config.Ref(scopeThreadPool, c.Name)
			s.pools = append(s.pools, threadpool.Spec{
				Name: c.Name, Concurrency: int(o.concurrency.Fetch(g, ref)), Backlog: int(o.backlog.Fetch(g, ref)),
			})
		case strings.EqualFold(c.Keyword, scopeControlListener):
			for _, l := range c.Children {
				if !strings.EqualFold(l.Keyword, scopeListen) {
					continue
				}
				ref := config.Ref(scopeListen, l.Name)
				cl := controlListen{
					Address: l.Name, Unix: strings.Contains(l.Name, "/"),
					FileMode: o.fileMode.Fetch(g, ref), Auth: o.enableAuth.Fetch(g, ref), SecretFile: o.secretFile.Fetch(g, ref),
				}
				if !cl.Unix && !cl.Auth {
					errs = append(errs, fmt.Errorf("%s: Control_Listener Listen %q: a TCP control listener needs Enable_Authentication = true and a Secret_File", l.Pos, l.Name))
				}
				if !cl.Unix && cl.Auth && cl.SecretFile == "" {
					errs = append(errs, fmt.Errorf("%s: Control_Listener Listen %q: Enable_Authentication needs a Secret_File", l.Pos, l.Name))
				}
				s.control = append(s.control, cl)
			}
		default:
			// A module stanza: its debug_level filters its paniclog lines. An
			// instance of a non-singleton sets the level of the module's tag; with
			// several instances the most verbose wins.
			if e := c.Option("debug_level"); e != nil && e.Value.Kind == config.ScalarValue {
				if l, err := logging.ParseLevel(e.Value.Text); err == nil {
					if old, ok := s.modLevels[strings.ToLower(c.Keyword)]; !ok || l < old {
						s.modLevels[strings.ToLower(c.Keyword)] = l
					}
				}
			}
		}
	}
	return s, errors.Join(errs...)
}
