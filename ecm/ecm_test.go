package ecm

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseProvidesForms(t *testing.T) {
	cases := []struct {
		name, line string
		want       Capability
	}{
		{"global", "msys.provides = config.Global:MyKey", Capability{Kind: "config", Scopes: []string{"Global"}, Option: "MyKey", Path: "Global:MyKey"}},
		{"binding", "msys.provides = config.Global:Binding.MyKey", Capability{Kind: "config", Scopes: []string{"Global", "Binding"}, Option: "MyKey", Path: "Global:Binding.MyKey"}},
		{"domain", "msys.provides = config.Global:Domain.MyKey", Capability{Kind: "config", Scopes: []string{"Global", "Domain"}, Option: "MyKey", Path: "Global:Domain.MyKey"}},
		{"binding-domain", "msys.provides = config.Global:Binding:Domain.MyKey", Capability{Kind: "config", Scopes: []string{"Global", "Binding", "Domain"}, Option: "MyKey", Path: "Global:Binding:Domain.MyKey"}},
		{"auto", "msys.provides:auto = config.Global:Binding:Domain.MyKey", Capability{Kind: "config", Scopes: []string{"Global", "Binding", "Domain"}, Option: "MyKey", Path: "Global:Binding:Domain.MyKey", Auto: true}},
		{"auto-upper", "MSYS.Provides:AUTO = config.Global:Binding_Group:Binding:Domain.Opt", Capability{Kind: "config", Scopes: []string{"Global", "Binding_Group", "Binding", "Domain"}, Option: "Opt", Path: "Global:Binding_Group:Binding:Domain.Opt", Auto: true}},
		{"other-kind", "msys.provides = datasource.sqlite", Capability{Kind: "datasource", Path: "sqlite"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mods, err := Parse("m.ecm", strings.NewReader("[m]\n"+tc.line+"\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(mods) != 1 || len(mods[0].Provides) != 1 {
				t.Fatalf("got %+v, want one module with one capability", mods)
			}
			got := mods[0].Provides[0]
			tc.want.Pos = Pos{"m.ecm", 2}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseSections(t *testing.T) {
	src := `# a manifest with two modules
; semicolon comments too
[alpha]
msys.requires = beta
msys.requires = gamma, delta
msys.provides = config.Global:Alpha_Key config.Global:Domain.Alpha_Domain_Key
description = "the alpha module"

[beta]
`
	mods, err := Parse("two.ecm", strings.NewReader(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(mods) != 2 {
		t.Fatalf("got %d modules, want 2", len(mods))
	}
	a := mods[0]
	if a.Name != "alpha" || a.Pos != (Pos{"two.ecm", 3}) {
		t.Errorf("alpha header: %q at %v", a.Name, a.Pos)
	}
	if want := []string{"beta", "gamma", "delta"}; !reflect.DeepEqual(a.Requires, want) {
		t.Errorf("requires = %v, want %v", a.Requires, want)
	}
	if len(a.Provides) != 2 || a.Provides[1].Option != "Alpha_Domain_Key" || a.Provides[1].ScopePath() != "Global:Domain" {
		t.Errorf("provides = %+v", a.Provides)
	}
	if a.Attrs["description"] != "the alpha module" {
		t.Errorf("attrs = %v", a.Attrs)
	}
	if mods[1].Name != "beta" || len(mods[1].Requires) != 0 {
		t.Errorf("beta = %+v", mods[1])
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		want      error
		good      int // well-formed sections still returned
	}{
		{"key-outside-section", "msys.requires = x\n[a]\n", 1, ErrSyntax, 1},
		{"unclosed-header", "[a\nmsys.requires = x\n", 1, ErrSyntax, 0},
		{"bad-name", "[a b]\n", 1, ErrBadName, 0},
		{"garbage-line", "[a]\nthis is not a key\n", 2, ErrSyntax, 1},
		{"bad-dep", "[a]\nmsys.requires = b/c\n", 2, ErrBadName, 1},
		{"provides-no-option", "[a]\nmsys.provides = config.Global\n", 2, ErrBadProvides, 1},
		{"provides-not-global", "[a]\nmsys.provides = config.Binding.X\n", 2, ErrBadProvides, 1},
		{"provides-empty-scope", "[a]\nmsys.provides = config.Global::Domain.X\n", 2, ErrBadProvides, 1},
		{"provides-unknown-tag", "[a]\nmsys.provides:manual = config.Global:X\n", 2, ErrSyntax, 1},
		{"duplicate", "[a]\n[b]\n[A]\n", 3, ErrDuplicate, 2},
		{"empty-key", "[a]\n= v\n", 2, ErrSyntax, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mods, err := Parse("bad.ecm", strings.NewReader(tc.src))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos.Line != tc.line || pe.Pos.File != "bad.ecm" {
				t.Errorf("error position = %+v, want bad.ecm:%d", pe, tc.line)
			}
			if !strings.HasPrefix(err.Error(), "bad.ecm:") {
				t.Errorf("error text %q does not start with file:line", err)
			}
			if len(mods) != tc.good {
				t.Errorf("got %d good sections, want %d", len(mods), tc.good)
			}
		})
	}
}

func TestParseOverlongLine(t *testing.T) {
	src := "[a]\ndescription = " + strings.Repeat("x", maxLine+10) + "\n"
	if _, err := Parse("long.ecm", strings.NewReader(src)); !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax for an over-long line", err)
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestScan(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	write(t, filepath.Join(a, "validate", "zeta.ecm"), "[zeta]\nmsys.requires = alpha\n")
	write(t, filepath.Join(a, "alpha.ecm"), "[alpha]\nmsys.provides:auto = config.Global:Alpha_On\n")
	write(t, filepath.Join(a, "broken.ecm"), "[broken]\nnot a pair\n[fine]\n")
	write(t, filepath.Join(a, "readme.txt"), "[ignored]\n")
	write(t, filepath.Join(b, "alpha.ecm"), "[alpha]\n") // shadowed by a's alpha
	write(t, filepath.Join(b, "huge.ecm"), "[huge]\n"+strings.Repeat("#\n", MaxFileSize/2+1))
	missing := filepath.Join(b, "does-not-exist")

	res := Scan([]string{a, b, missing})
	var names []string
	for _, f := range res.Modules {
		names = append(names, f.Name)
	}
	// a's files in lexical order (alpha, broken's two sections, validate/zeta), then b's.
	if want := []string{"alpha", "broken", "fine", "zeta"}; !reflect.DeepEqual(names, want) {
		t.Errorf("modules = %v, want %v", names, want)
	}
	z, ok := res.Lookup("ZETA")
	if !ok || z.Dir != filepath.Join(a, "validate") || z.Requires[0] != "alpha" {
		t.Errorf("Lookup(ZETA) = %+v, %v", z, ok)
	}
	if len(res.Shadowed) != 1 || res.Shadowed[0].File != filepath.Join(b, "alpha.ecm") {
		t.Errorf("shadowed = %+v", res.Shadowed)
	}
	var text []string
	for _, p := range res.Problems {
		text = append(text, p.Error())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"broken.ecm:2", "huge.ecm", "over the", "does-not-exist"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not mention %q:\n%s", want, all)
		}
	}
	if len(res.Problems) != 3 {
		t.Errorf("got %d problems, want 3:\n%s", len(res.Problems), all)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[a]\nmsys.requires = b\nmsys.provides:auto = config.Global:Binding:Domain.K\n",
		"[a\n", "x = y\n", "[a]\nmsys.provides = config.\n", "\xef\xbb\xbf[bom]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		mods, err := Parse("fuzz.ecm", strings.NewReader(s))
		for _, m := range mods {
			if !validName(m.Name) {
				t.Fatalf("accepted bad name %q", m.Name)
			}
			for _, c := range m.Provides {
				if c.Kind == "config" && (len(c.Scopes) == 0 || c.Option == "") {
					t.Fatalf("accepted incomplete capability %+v", c)
				}
			}
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not an *Error", err)
			}
		}
	})
}
