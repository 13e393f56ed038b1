package config

import (
	"errors"
	"strings"
	"testing"
)

const fallbackConf = `
Max_Outbound_Connections = 1
Domain "global.dom" { Max_Outbound_Connections = 2 }
Domain "/(?:^|[.])rx[.]com$/" { Max_Outbound_Connections = 3 }
Domain "/^ex/" { Max_Outbound_Connections = 33 }
Domain "exact.rx.com" { }
Binding_Group "grp" {
  Max_Outbound_Connections = 4
  Domain "grp.dom" { Max_Outbound_Connections = 5 }
  Binding "inb" {
    Domain "bd.dom" { Max_Outbound_Connections = 6 }
  }
  Binding "inb2" { Max_Outbound_Connections = 7 }
}
Binding "solo" { Domain "bd.dom" { Max_Outbound_Connections = 8 } }
Host "h.example" { Host_Opt = host }
Binding "solo" { Host "h.example" { Host_Opt = bindinghost } }
Pathway_Group "pg" { Path_Opt = group  Pathway "p" { Path_Opt = pathway  Domain "pd" { Path_Opt = pathdomain } } }
Pathway "q" { }
ESMTP_Listener {
  Enable = on
  Listen ":25" { Enable = off  Peer "10.0.0.0/8" { Enable = yes } }
  Peer "192.168.0.0/16" { Enable = no }
}
ec_logger "one" { mainlog = /one }
alerting { enabled = disabled }
`

func TestFallback(t *testing.T) {
	o := newTestOptions(t)
	g := o.build(t, fallbackConf)
	defer g.Release()
	ints := []struct {
		name string
		got  int64
		want int64
	}{
		{"global", o.maxOut.Global(g), 1},
		{"global domain", o.maxOut.Domain(g, "global.dom"), 2},
		{"domain case-insensitive", o.maxOut.Domain(g, "GLOBAL.Dom"), 2},
		{"regex domain", o.maxOut.Domain(g, "a.rx.com"), 3},
		{"regex in file order", o.maxOut.Domain(g, "ex.rx.com"), 3},
		{"second regex", o.maxOut.Domain(g, "example.org"), 33},
		{"exact stanza beats regex", o.maxOut.Domain(g, "exact.rx.com"), 1},
		{"unknown domain", o.maxOut.Domain(g, "other"), 1},
		{"binding::domain in group", o.maxOut.BindingDomain(g, "inb", "bd.dom"), 6},
		{"binding_group::domain", o.maxOut.BindingDomain(g, "inb", "grp.dom"), 5},
		{"binding -> group", o.maxOut.BindingDomain(g, "inb", "other"), 4},
		{"binding beats group", o.maxOut.BindingDomain(g, "inb2", "other"), 7},
		{"binding beats global domain", o.maxOut.BindingDomain(g, "inb2", "global.dom"), 7},
		{"binding::domain no group", o.maxOut.BindingDomain(g, "solo", "bd.dom"), 8},
		{"binding without value -> global domain", o.maxOut.BindingDomain(g, "solo", "global.dom"), 2},
		{"unknown binding -> global", o.maxOut.BindingDomain(g, "nope", "nope"), 1},
		{"Binding alone", o.maxOut.Binding(g, "inb"), 4},
		{"generic fetch", o.maxOut.Fetch(g, Ref("Binding", "inb"), Ref("Domain", "bd.dom")), 6},
		{"generic fetch group given", o.maxOut.Fetch(g, Ref("Binding_Group", "grp"), Ref("Domain", "grp.dom")), 5},
		{"default when unset", o.memHWM.Global(g), 95},
	}
	for _, c := range ints {
		if c.got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, c.got, c.want)
		}
	}
	strs := []struct {
		name, got, want string
	}{
		{"host", o.hostOpt.Host(g, "h.example"), "host"},
		{"binding::host", o.hostOpt.BindingHost(g, "solo", "h.example"), "bindinghost"},
		{"binding::host falls to host", o.hostOpt.BindingHost(g, "inb", "h.example"), "host"},
		{"host default", o.hostOpt.Host(g, "x"), "dflt"},
		{"pathway::domain", o.pathOpt.PathwayDomain(g, "p", "pd"), "pathdomain"},
		{"pathway", o.pathOpt.PathwayDomain(g, "p", "other"), "pathway"},
		{"pathway_group", o.pathOpt.Pathway(g, "p"), "pathway"},
		{"pathway without value", o.pathOpt.Pathway(g, "q"), "dflt"},
		{"module instance", o.mainlog.Module(g, "one"), "/one"},
		{"module default", o.mainlog.Module(g, "two"), "/var/log/mainlog.ec"},
	}
	for _, c := range strs {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	bools := []struct {
		name      string
		got, want bool
	}{
		{"listener", o.enable.Fetch(g), true},
		{"listen", o.enable.Fetch(g, Ref("Listen", ":25")), false},
		{"peer in listen", o.enable.Fetch(g, Ref("Listen", ":25"), Ref("Peer", "10.0.0.0/8")), true},
		{"peer in listener", o.enable.Fetch(g, Ref("Listen", ":26"), Ref("Peer", "192.168.0.0/16")), false},
		{"other listen", o.enable.Fetch(g, Ref("Listen", ":26")), true},
		{"singleton module", o.alertEnable.Module(g, ""), false},
	}
	for _, c := range bools {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if _, pos, ok := o.maxOut.Lookup(g, Ref("Binding", "solo"), Ref("Domain", "bd.dom")); !ok || pos.Line != 15 {
		t.Errorf("Lookup position %v %v, want line 15", pos, ok)
	}
}

func TestFallbackOrderFollowsDefinition(t *testing.T) {
	// Without Binding in its path, a binding's value is not consulted: the
	// path says where an option is valid and in which order.
	r := NewRegistry()
	o := MustDefine(r, Spec[int64]{Name: "X", Fallback: "Domain>Global"}, IntType())
	tree, _ := Parse("t.conf", []byte("X = 1\nDomain \"d\" { X = 2 }"))
	g, err := r.Build(tree)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	if got := o.BindingDomain(g, "b", "d"); got != 2 {
		t.Errorf("got %d want 2", got)
	}
	tree, _ = Parse("t.conf", []byte(`Binding "b" { X = 3 }`))
	if _, err := r.Build(tree); !errors.Is(err, ErrMisplaced) {
		t.Errorf("X in Binding: got %v, want ErrMisplaced", err)
	}
}

func TestValidationErrors(t *testing.T) {
	o := newTestOptions(t)
	tests := []struct {
		name, src, want string
		kind            error
	}{
		{"unknown option", "Spoolbse = x", `t.conf:1:1: unknown option "Spoolbse" in scope Global (did you mean Spoolbase?)`, ErrUnknownOption},
		{"unknown scope", "Nope { }", `t.conf:1:1: unknown scope "Nope"`, ErrUnknownScope},
		{"misplaced option", "Domain \"d\" { Spoolbase = x }", "t.conf:1:14: option Spoolbase is not valid in scope Domain \"d\"", ErrMisplaced},
		{"misplaced scope", "Domain \"d\" { Binding \"b\" {} }", "t.conf:1:14: scope Binding may not appear in Domain", ErrMisplaced},
		{"named scope without name", "Domain { }", "t.conf:1:1: scope Domain needs an instance name", ErrSyntax},
		{"anonymous scope with name", "ESMTP_Listener \"x\" { }", "scope ESMTP_Listener takes no instance name", ErrSyntax},
		{"scope used as option", "Domain = x", "Domain is a scope", ErrSyntax},
		{"option used as scope", "Spoolbase { }", "Spoolbase is an option", ErrSyntax},
		{"bad regex name", "Domain \"/(/\" { }", "t.conf:1:1: Domain \"/(/\": expected a regular expression", ErrBadValue},
		{"binding in two groups", "Binding_Group \"a\" { Binding \"b\" {} }\nBinding_Group \"c\" { Binding \"b\" {} }", "t.conf:2:21:", ErrMisplaced},
		{"module option outside module", "mainlog = x", "t.conf:1:1: option Mainlog is not valid in scope Global (valid in: ec_logger)", ErrMisplaced},
		{"listen outside listener", "Listen \":25\" {}", "scope Listen may not appear in Global", ErrMisplaced},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = o.reg.Build(tree)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ...%s...", err, tt.want)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("%v is not %v", err, tt.kind)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	o := newTestOptions(t)
	tree, _ := Parse("t.conf", []byte("Memory_HWM = x\nNope = 1\nSpool_Mode = 999\n"))
	_, err := o.reg.Build(tree)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 3 {
		t.Fatalf("got %v, want 3 errors", err)
	}
}

func TestFetchWithoutAllocation(t *testing.T) {
	o := newTestOptions(t)
	g := o.build(t, fallbackConf)
	defer g.Release()
	allocs := testing.AllocsPerRun(100, func() {
		_ = o.maxOut.BindingDomain(g, "inb", "bd.dom")
		_ = o.maxOut.BindingDomain(g, "nope", "GLOBAL.dom")
		_ = o.maxOut.Domain(g, "global.dom")
		_ = o.enable.Fetch(g, Ref("Listen", ":25"), Ref("Peer", "10.0.0.0/8"))
		_ = o.spoolbase.Global(g)
	})
	if allocs != 0 {
		t.Errorf("fetch allocates %v times", allocs)
	}
}

func TestHasUpper(t *testing.T) {
	cases := []string{"", "a", "A", "abcdefgh", "abcdefgH", "Abcdefgh", "abcdefghijklmnoP", "\xff\xfe\xc3\x81abcdef", "@[`{", "example.COM", "zzzzzzzzzzzzzzzzzzzzzzzzZ"}
	for c := 0; c < 256; c++ {
		cases = append(cases, strings.Repeat("x", 9)+string(rune(c)), strings.Repeat("\x80", 3)+string([]byte{byte(c)})+"yyyyyyy")
	}
	for _, s := range cases {
		want := false
		for i := 0; i < len(s); i++ {
			want = want || ('A' <= s[i] && s[i] <= 'Z')
		}
		if got := hasUpper(s); got != want {
			t.Errorf("hasUpper(%q) = %v, want %v", s, got, want)
		}
	}
}

// exactConf has no /regex/ stanzas, so every Domain and Host chain takes
// the path that looks values up by the number of the name.
var exactConf = `
Max_Outbound_Connections = 1
Domain "plain.dom" { Max_Outbound_Connections = 2 }
Domain "` + longName + `" { Max_Outbound_Connections = 3 }
Domain "noval.dom" { }
Binding_Group "grp" {
  Domain "grp.dom" { Max_Outbound_Connections = 5 }
  Binding "inb" { Domain "Bd.Dom" { Max_Outbound_Connections = 6 } }
}
Binding "solo" { Domain "bd.dom" { Max_Outbound_Connections = 8 } }
Binding "Mixed" { Domain "plain.dom" { Max_Outbound_Connections = 9 } }
Host "h.example" { Host_Opt = host }
Binding "solo" { Host "H.Example" { Host_Opt = bindinghost } }
Pathway "p" { Domain "pd" { Path_Opt = pathdomain } }
`

var longName = strings.Repeat("long-label.", 14) + "dom" // over 128 bytes

func TestFetchByNameNumber(t *testing.T) {
	o := newTestOptions(t)
	g := o.build(t, exactConf)
	defer g.Release()
	ints := []struct {
		name            string
		binding, domain string
		want            int64
	}{
		{"domain", "", "plain.dom", 2},
		{"domain upper case", "", "PLAIN.Dom", 2},
		{"long name", "", longName, 3},
		{"long name upper case", "", strings.ToUpper(longName), 3},
		{"stanza without the option", "", "noval.dom", 1},
		{"no stanza", "", "none.dom", 1},
		{"domain only under a binding", "", "bd.dom", 1},
		{"binding::domain written mixed case", "inb", "bd.dom", 6},
		{"binding::domain fetched upper case", "inb", "BD.DOM", 6},
		{"binding_group::domain", "inb", "grp.dom", 5},
		{"binding::domain", "solo", "BD.dom", 8},
		{"binding names keep their case", "mixed", "plain.dom", 2},
		{"binding::domain, binding as written", "Mixed", "plain.dom", 9},
		{"binding without stanza -> domain", "solo", "plain.dom", 2},
		{"unknown binding and domain", "nope", "nope", 1},
	}
	for _, c := range ints {
		var got, generic int64
		if c.binding == "" {
			got = o.maxOut.Domain(g, c.domain)
			generic = o.maxOut.Fetch(g, Ref("domain", c.domain))
		} else {
			got = o.maxOut.BindingDomain(g, c.binding, c.domain)
			generic = o.maxOut.Fetch(g, Ref("Binding", c.binding), Ref("Domain", c.domain))
		}
		if got != c.want || generic != c.want {
			t.Errorf("%s: got %d (generic fetch %d), want %d", c.name, got, generic, c.want)
		}
	}
	strs := []struct {
		name, got, want string
	}{
		{"host", o.hostOpt.Host(g, "H.EXAMPLE"), "host"},
		{"binding::host written mixed case", o.hostOpt.BindingHost(g, "solo", "h.example"), "bindinghost"},
		{"binding::host falls to host", o.hostOpt.BindingHost(g, "inb", "h.example"), "host"},
		{"host unknown", o.hostOpt.Host(g, "x"), "dflt"},
		{"pathway::domain", o.pathOpt.PathwayDomain(g, "p", "PD"), "pathdomain"},
		{"pathway::domain other pathway", o.pathOpt.PathwayDomain(g, "q", "pd"), "dflt"},
	}
	for _, c := range strs {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	allocs := testing.AllocsPerRun(100, func() {
		_ = o.maxOut.BindingDomain(g, "inb", "BD.Dom")
		_ = o.maxOut.BindingDomain(g, "nope", "none.dom")
		_ = o.maxOut.Fetch(g, Ref("Binding", "solo"), Ref("Domain", "Bd.dom"))
		_ = o.hostOpt.BindingHost(g, "solo", "h.example")
	})
	if allocs != 0 {
		t.Errorf("fetch allocates %v times", allocs)
	}
}
