// Package ecm reads module manifests: the INI-like ".ecm" files that sit beside every module in
// the daemon's libexec path(s).
//
// A manifest declares one or more modules, one section each:
//
//	[outbound_smtp_auth]
//	msys.requires = ec_logger
//	msys.provides:auto = config.Global:Binding:Domain.Outbound_SMTP_AUTH_Type
//
// `msys.requires` names modules that must be loaded first; `msys.provides` names configuration
// options whose mere presence in ecelerity.conf loads the module implicitly (the `:auto` tag is
// how the ecxs build tool writes the line; it means the same here and is kept for display).
//
// The package only reads: [Parse] turns one file into [Manifest] values with positions, and
// [Scan] walks a list of libexec directories, collecting every manifest and reporting (not
// failing on) the malformed ones. Loading modules is the business of package modules.
package ecm
