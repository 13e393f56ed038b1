// Package sample is the example built-in module: small, but it goes through
// every phase a module has, so that module authors can copy its shape.
//
//   - Registration (sample.go): init() registers one modules.Info with the
//     compiled-in manifest sample.ecm, whose msys.provides lines make the
//     module load implicitly as soon as the configuration uses one of its
//     options.
//   - conf_setup (setup.go): defines the options (Sample_Greeting at Global,
//     Sample_Domain_Greeting with the fallback
//     Binding:Domain>Domain>Binding>Global, and Verbose in the module's own
//     stanza) and registers, once for the process, its provider of the
//     framework hook config.generation_committed.
//   - ext_init (sample.go): Init reads the generation's settings and keeps them
//     for that generation; PostInit logs them; Destroy drops them once the
//     generation is gone.
//   - Hooks: it provides config.generation_committed and declares
//     sample.greeting, through which other modules may choose the greeting for
//     a domain before the configured one is used.
//   - Control: `sample status` and `sample greet DOMAIN [BINDING]`.
//
// The module is a singleton: it has no per-instance resources, its hook
// provider can be registered once for the process, and one `sample { }`
// stanza is all an operator would want. The per-generation part of its state
// is kept by generation ID, which is what a singleton must do, since a new
// generation is initialised while the old one may still be serving.
package sample
