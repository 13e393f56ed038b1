package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const benchDomains = 10000

// benchRegistry defines the options the 10,000-domain configuration uses.
func benchRegistry(b *testing.B) (*Registry, *Option[int64]) {
	r := NewRegistry()
	maxOut := MustDefine(r, Spec[int64]{
		Name:     "Max_Outbound_Connections",
		Fallback: "Binding:Domain>Binding_Group:Domain>Binding>Binding_Group>Domain>Global",
		Default:  "20",
	}, IntType())
	MustDefine(r, Spec[Throttle]{Name: "Outbound_Throttle_Messages", Fallback: "Binding:Domain>Domain>Global"}, ThrottleType())
	MustDefine(r, Spec[[]string]{Name: "Routes", Fallback: "Domain>Global"}, ArrayOf(StringType()))
	MustDefine(r, Spec[bool]{Name: "Use_TLS", Fallback: "Binding:Domain>Domain>Global", Default: "false"}, BoolType())
	return r, maxOut
}

// benchConfig is a Global scope, a binding and benchDomains Domain stanzas
// of four options each.
func benchConfig() string {
	var b strings.Builder
	b.WriteString("Max_Outbound_Connections = 50\n")
	b.WriteString("Binding \"b\" {\n  Domain \"d0.example.com\" { Max_Outbound_Connections = 1 }\n}\n")
	for i := 0; i < benchDomains; i++ {
		fmt.Fprintf(&b, "Domain \"d%d.example.com\" {\n  Max_Outbound_Connections = %d\n  Outbound_Throttle_Messages = 100/60\n  Routes = ( \"mx1.example.net\" \"mx2.example.net\" )\n  Use_TLS = yes\n}\n", i, i%50+1)
	}
	return b.String()
}

// jsonDomain and jsonConfig are the encoding/json equivalent of benchConfig.
type jsonDomain struct {
	MaxOutboundConnections   int64    `json:"Max_Outbound_Connections"`
	OutboundThrottleMessages string   `json:"Outbound_Throttle_Messages"`
	Routes                   []string `json:"Routes"`
	UseTLS                   bool     `json:"Use_TLS"`
}

type jsonConfig struct {
	MaxOutboundConnections int64                            `json:"Max_Outbound_Connections"`
	Binding                map[string]map[string]jsonDomain `json:"Binding"`
	Domain                 map[string]jsonDomain            `json:"Domain"`
}

func benchJSON(b *testing.B) []byte {
	c := jsonConfig{MaxOutboundConnections: 50, Domain: make(map[string]jsonDomain, benchDomains),
		Binding: map[string]map[string]jsonDomain{"b": {"d0.example.com": {MaxOutboundConnections: 1}}}}
	for i := 0; i < benchDomains; i++ {
		c.Domain[fmt.Sprintf("d%d.example.com", i)] = jsonDomain{
			MaxOutboundConnections: int64(i%50 + 1), OutboundThrottleMessages: "100/60",
			Routes: []string{"mx1.example.net", "mx2.example.net"}, UseTLS: true,
		}
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkParseCommit10kDomains parses, validates and commits a
// 10,000-domain configuration. Goal: <= 100 ms and <= 50 MiB per op.
func BenchmarkParseCommit10kDomains(b *testing.B) {
	r, maxOut := benchRegistry(b)
	src := []byte(benchConfig())
	s := NewStore(r, StoreOptions{})
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tree, err := Parse("bench.conf", src)
		if err != nil {
			b.Fatal(err)
		}
		g, err := s.BeginTree(tree).Commit()
		if err != nil {
			b.Fatal(err)
		}
		if maxOut.Domain(g, "d49.example.com") != 50 {
			b.Fatal("wrong value")
		}
		g.Release()
	}
}

// BenchmarkParseOnly10kDomains is the parse stage alone, to show where the
// time of BenchmarkParseCommit10kDomains goes.
func BenchmarkParseOnly10kDomains(b *testing.B) {
	src := []byte(benchConfig())
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse("bench.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseGrammar10kDomains parses the same file with the participle
// grammar alone, as every parse did before fastParse: the figure that
// fastParse exists to avoid.
func BenchmarkParseGrammar10kDomains(b *testing.B) {
	src := benchConfig()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := grammarParse("bench.conf", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONEquivalent decodes the same settings as JSON into typed Go
// structs: the practical floor for reading such a document.
func BenchmarkJSONEquivalent(b *testing.B) {
	data := benchJSON(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var c jsonConfig
		if err := json.Unmarshal(data, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFetchBindingDomainFallbackToGlobal fetches for a binding that has
// domain stanzas and a domain that none of the 10,000 stanzas names, so the
// walk tries binding::domain, binding and domain before the global value.
// Goal: <= 50 ns, 0 allocations.
func BenchmarkFetchBindingDomainFallbackToGlobal(b *testing.B) {
	r, maxOut := benchRegistry(b)
	tree, err := Parse("bench.conf", []byte(benchConfig()))
	if err != nil {
		b.Fatal(err)
	}
	g, err := r.Build(tree)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Release()
	b.ReportAllocs()
	b.ResetTimer()
	var sum int64
	for i := 0; i < b.N; i++ {
		sum += maxOut.BindingDomain(g, "b", "nowhere.example.org")
	}
	if sum != int64(b.N)*50 {
		b.Fatal("wrong value")
	}
}

// BenchmarkFetchDomainHit is a fetch that finds a Domain stanza's value.
func BenchmarkFetchDomainHit(b *testing.B) {
	r, maxOut := benchRegistry(b)
	tree, _ := Parse("bench.conf", []byte(benchConfig()))
	g, err := r.Build(tree)
	if err != nil {
		b.Fatal(err)
	}
	defer g.Release()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = maxOut.BindingDomain(g, "b", "d77.example.com")
	}
}

// BenchmarkCommitOnly10kDomains is validation and commit of an already
// parsed 10,000-domain tree: BenchmarkParseCommit10kDomains without the
// parse.
func BenchmarkCommitOnly10kDomains(b *testing.B) {
	r, _ := benchRegistry(b)
	tree, err := Parse("bench.conf", []byte(benchConfig()))
	if err != nil {
		b.Fatal(err)
	}
	s := NewStore(r, StoreOptions{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := s.BeginTree(tree).Commit()
		if err != nil {
			b.Fatal(err)
		}
		g.Release()
	}
}

// BenchmarkMapLookupPeer is the floor for the fetch benchmarks on this
// machine: two plain map misses, as the fallback walk to global does.
func BenchmarkMapLookupPeer(b *testing.B) {
	m := make(map[string]int64, benchDomains)
	for i := 0; i < benchDomains; i++ {
		m[fmt.Sprintf("d%d.example.com", i)] = int64(i)
	}
	small := map[string]int64{"b\x00d0.example.com": 1}
	key := "nowhere.example.org"
	b.ReportAllocs()
	b.ResetTimer()
	var sum int64
	for i := 0; i < b.N; i++ {
		v, ok := small[key]
		if !ok {
			v, ok = m[key]
		}
		if !ok {
			v = 50
		}
		sum += v
	}
	if sum == 0 {
		b.Fatal("no result")
	}
}
