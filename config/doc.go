// Package config is the generational configuration of the server: the
// ecelerity.conf language, typed and scoped option definitions, and
// transactions that turn a configuration into an immutable, reference-counted
// Generation and switch it in atomically.
//
// # Two stages
//
// Parse and ParseFile turn text into a *Tree: files, scopes and options as
// written, with file:line:col positions, includes resolved (relative to the
// including file; a directory is read in name order without dot-files or
// recursion; a cycle is an error; readonly_include files and files included
// twice are read-only) and the local-changes file (Local_Changes_File,
// default local_changes.conf beside the main file) read last. A Tree knows no
// option definitions. Tree.Root gives the merged view (a repeated named
// scope merges, a repeated option is last-wins); Tree.Stanzas lists the
// top-level scopes in file order and Tree.OptionUses every option with its
// scope path, which is what the module system needs to load modules from
// their stanzas and from msys.provides.
//
// Registry.Build validates a Tree against the definitions of a Registry
// (DefineScope, Define): unknown options and scope keywords, misplaced ones
// and bad values are errors with positions, all of them reported together
// (ErrorList); a Generation is built whole or not at all. Unknown names are
// errors, never ignored.
//
// # Options and fallback
//
// Define returns a typed handle, *Option[T]. A definition's Fallback is a
// list of scope chains, most specific first: "Binding:Domain>Domain>Global".
// The option may be set exactly in those scopes, and fetching walks them in
// order: Global, Binding, BindingDomain, Domain, Host, BindingHost, Pathway,
// PathwayDomain, Module and the generic Fetch return the most specific value
// set, then the default. An option is its name and that set of scopes: a
// name may be defined again for scopes none of its definitions is valid in
// (the thread pools' Concurrency beside the ESMTP listener's), a module's
// option may fall back to Global ("ESMTP_Listener:Listen>ESMTP_Listener>
// Global", then set at the top level like a core option), and two
// definitions valid in a common scope are an error naming both. A binding's Binding_Group (and a pathway's
// Pathway_Group) is the group it is declared in. Domain and Host names
// compare without case; a name written "/regex/" is a regex stanza: an exact
// stanza of the container wins, otherwise regex stanzas are tried in file
// order. Each generation stores, per option and chain, a map from the
// chain's instance names to the typed value, so a fetch is one or two map
// lookups and allocates nothing.
//
// # Generations, transactions, participants
//
// A Store holds the current Generation behind an atomic pointer. Current
// returns it with a reference (Release when done); a holder sees the same
// values while newer generations commit. A Txn (Begin, BeginFromScratch,
// BeginTree, Reload) edits a copy of the tree with Set/Unset or replaces it.
// Committing has two phases. Prepare builds and validates the new generation
// and runs every Participant's Prepare (the module system's hook into
// commits, without this package knowing modules); everything costly happens
// there, and the transaction then holds the store's commit slot. Swap is the
// pointer store and the Swap of the participants that are Swappers (the
// module system installs its hook registry there), cheap enough to run on the
// event loop, so that readers there see configuration and hooks change in
// one step; Finish then runs the participants' Commit and releases the
// previous generation, off the loop; Abort drops a prepared transaction
// instead. Commit is the three in a row, the swap through the store's swap
// runner when one is set (the module system's runs it on the loop). A
// transaction may name a new main file (SetPath) that the commit makes the
// store's Path. If another commit happened since Begin, the first commit wins
// and this one fails with ErrConflict. A rejected transaction leaves the current generation
// untouched and frees (Datafree) what it built. A superseded generation
// retires when its last reference is released: OnRetire callbacks, then
// Datafree of its values.
//
// # Console and writeback
//
// Store.Command implements the console's config command family (get, eval,
// set, unset, show, showrecurse, locate, begin/commit/rollback/replay,
// reload, writeback) and returns the reply text. Writeback rewrites the files
// console changes went to, atomically; read-only files are never written.
// Printing a Tree gives config syntax that parses back to an equal tree, in
// canonical casing for writeback; comments, blank lines and the original
// layout are not kept.
//
// The grammar is written with participle (grammar.go) over a hand-written
// lexer (lexer.go); neither leaks out of the package. The grammar defines
// the language and gives every syntax error, but participle materialises
// every token and allocates for every alternative it tries, which on a large
// file costs many times the whole reload budget. So text is first read by a
// direct reading of the same productions (fastparse.go) that builds the
// entries the grammar would; whatever it does not accept goes to the
// grammar. A test and a fuzz target hold the two to the same result.
//
// Fetching is cheap by construction: each option's values are resolved per
// generation, only the fallback chains that hold values are walked, and
// Domain and Host names are numbered once per generation, so a fetch
// through several domain-keyed chains hashes the name once.
package config
