package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// testOptions are the definitions most tests use: a few core options with
// the documented fallback paths and two module scopes.
type testOptions struct {
	reg         *Registry
	spoolbase   *Option[string]
	spoolMode   *Option[os.FileMode]
	memHWM      *Option[int64]
	maxOut      *Option[int64]
	hostOpt     *Option[string]
	pathOpt     *Option[string]
	enable      *Option[bool]
	relayHosts  *Option[[]string]
	context     *Option[Dict]
	listenAddr  *Option[netip.AddrPort]
	mainlog     *Option[string]
	alertEnable *Option[bool]
}

func newTestOptions(t testing.TB) *testOptions {
	t.Helper()
	r := NewRegistry()
	o := &testOptions{reg: r}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.DefineScope(ScopeDef{Keyword: "ESMTP_Listener", Parents: []string{"Global"}, Children: []string{"Listen", "Peer"}}))
	must(r.DefineScope(ScopeDef{Keyword: "ec_logger", Named: true, Parents: []string{"Global"}}))
	must(r.DefineScope(ScopeDef{Keyword: "alerting", Parents: []string{"Global"}}))
	o.spoolbase = MustDefine(r, Spec[string]{Name: "Spoolbase", Default: "/var/spool/ecelerity"}, StringType())
	o.spoolMode = MustDefine(r, Spec[os.FileMode]{Name: "Spool_Mode", Default: "0640", NotDynamic: true}, PermsType())
	o.memHWM = MustDefine(r, Spec[int64]{Name: "Memory_HWM", Default: "95"}, IntType())
	o.maxOut = MustDefine(r, Spec[int64]{
		Name:     "Max_Outbound_Connections",
		Fallback: "Binding:Domain>Binding_Group:Domain>Binding>Binding_Group>Domain>Global",
		Default:  "20",
	}, IntType())
	o.hostOpt = MustDefine(r, Spec[string]{Name: "Host_Opt", Fallback: "Binding:Host>Host>Global", Default: "dflt"}, StringType())
	o.pathOpt = MustDefine(r, Spec[string]{Name: "Path_Opt", Fallback: "Pathway:Domain>Pathway>Pathway_Group>Global", Default: "dflt"}, StringType())
	o.enable = MustDefine(r, Spec[bool]{Name: "Enable", Fallback: "ESMTP_Listener:Listen:Peer>ESMTP_Listener:Listen>ESMTP_Listener:Peer>ESMTP_Listener", Default: "true"}, BoolType())
	o.relayHosts = MustDefine(r, Spec[[]string]{Name: "Relay_Hosts", Fallback: "ESMTP_Listener:Listen:Peer>ESMTP_Listener:Listen>ESMTP_Listener"}, ArrayOf(StringType()))
	o.context = MustDefine(r, Spec[Dict]{Name: "Context", Fallback: "ESMTP_Listener:Listen>ESMTP_Listener"}, DictType())
	o.listenAddr = MustDefine(r, Spec[netip.AddrPort]{Name: "Gateway", Fallback: "ESMTP_Listener"}, SockAddrType())
	o.mainlog = MustDefine(r, Spec[string]{Name: "Mainlog", Fallback: "ec_logger", Default: "/var/log/mainlog.ec"}, StringType())
	o.alertEnable = MustDefine(r, Spec[bool]{Name: "Enabled", Fallback: "[alerting]", Default: "true"}, BoolType())
	return o
}

// build parses src and builds a generation, failing the test on error.
func (o *testOptions) build(t testing.TB, src string) *Generation {
	t.Helper()
	tree, err := Parse("test.conf", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	g, err := o.reg.Build(tree)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return g
}

// writeFiles writes name -> content below dir.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
